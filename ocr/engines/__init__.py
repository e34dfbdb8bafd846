"""OCR engines: every one implements :class:`ocr.engines.base.Engine` and is registered here by name.

Engine modules import their heavy dependencies only when an engine is built or asked
for its availability, so listing engines stays cheap.

Engines from outside the package are plugged in by naming their modules in the
``OCR_ENGINE_PLUGINS`` environment variable (comma-separated, importable from
``sys.path``); each module calls :func:`register` when imported. The variable is
read when this package is imported, so worker processes see the same engines.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os

from ..config import ScanOptions
from ..errors import EngineError, UsageError
from ..models import file_digest
from .base import Engine, Mode
from .cloud import CloudEngine
from .neural import HybridEngine, NeuralEngine
from .tesseract import TesseractEngine

__all__ = ["Engine", "Mode", "availability", "create_engine", "engine_class", "engine_names", "model_digests",
           "register", "require_engine"]

PLUGINS_ENV = "OCR_ENGINE_PLUGINS"

logger = logging.getLogger(__name__)

_ENGINES: dict[str, type[Engine]] = {}


def register(engine: type[Engine]) -> type[Engine]:
    """Make ``engine`` known under ``engine.name`` (usable as a class decorator)."""
    _ENGINES[engine.name] = engine
    return engine


def engine_names() -> tuple[str, ...]:
    """Names of the registered engines, in registration order (plugins loaded on first use)."""
    _load_plugins()
    return tuple(_ENGINES)


def engine_class(name: str) -> type[Engine]:
    """The engine class registered as ``name``; unknown names raise :class:`UsageError`."""
    _load_plugins()
    try:
        return _ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine '{name}' (known engines: {', '.join(_ENGINES)})") from None


def availability(name: str) -> str | None:
    """``None`` when engine ``name`` can run here, otherwise why it cannot."""
    return engine_class(name).availability()


def require_engine(name: str) -> type[Engine]:
    """The engine class registered as ``name``; :class:`EngineError` saying why when it cannot run here."""
    cls = engine_class(name)
    reason = cls.availability()
    if reason is not None:
        raise EngineError(f"engine '{name}' is not available: {reason}")
    return cls


def model_digests(engine: type[Engine], options: ScanOptions) -> dict[str, dict[str, str]]:
    """Each file ``engine`` reads with under ``options``, by role: its name and SHA-256 (files that are
    missing are left out: the engine says so when it is built)."""
    files = engine.model_files(options)
    return {role: {"file": path.name, "sha256": file_digest(path)} for role, path in files.items() if path.is_file()}


def create_engine(name: str, options: ScanOptions) -> Engine:
    """Build engine ``name`` configured from ``options`` (models are loaded here, once)."""
    return require_engine(name).from_options(options)


@functools.cache
def _load_plugins() -> None:
    """Import the modules named in ``$OCR_ENGINE_PLUGINS`` (once, when the engines are first asked for, so
    that a face has set up its logging); one that fails is reported and skipped."""
    for module in filter(None, (part.strip() for part in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except Exception as exc:  # a broken plugin must not take the built-in engines down
            logger.error("engine plugin '%s' not loaded: %s: %s", module, type(exc).__name__, exc)


register(TesseractEngine)
register(NeuralEngine)
register(HybridEngine)
register(CloudEngine)
