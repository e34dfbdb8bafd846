"""Settings: one typed, immutable options object that every face builds and engines consume.

The CLI builds :class:`ScanOptions` from its flags. The neural and hybrid engines take
their models, thresholds, threads and cloud settings from :class:`PipelineConfig`,
layered by :func:`load_pipeline_config`: defaults ← config file (TOML or YAML, named
by ``--config`` or ``$OCR_CONFIG``) ← environment (``OCR_<FIELD>``) ← CLI flags.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Mapping, get_args

import yaml

from .errors import UsageError

Mode = Literal["page", "line"]
"""``page``: find and read all text; ``line``: the whole image is one line or word (no detection)."""

MODES: tuple[str, ...] = get_args(Mode)

DEFAULT_ENGINE = "hybrid"
DEFAULT_DPI = 300
DEFAULT_MAX_PIXELS = 100_000_000
MAX_STDIN_BYTES = 512 * 2**20
"""Most bytes read from standard input (a file's size is known; a stream's is not)."""
PDF_RENDER_MEMORY = 512 * 2**20
"""Memory a PDF page may take to render beyond its bitmap (PDFium inflates content streams whole)."""


CONFIG_ENV = "OCR_CONFIG"
"""Environment variable naming the config file when ``--config`` is not given."""

ENV_PREFIX = "OCR_"


@dataclass(frozen=True)
class PipelineConfig:
    """The neural and hybrid pipelines: models, thresholds, threads, fallbacks and cloud.

    ``detector``: a key of :data:`ocr.detection.DETECTOR_MODELS`; ``recognizer``: a model
    name in the weights folder (``<name>.onnx`` + ``.json``) or an ``.onnx`` path.
    ``fallback_threshold``: words the recognizer reads with less confidence are re-read by
    Tesseract (0.7: chosen by ``ocr eval calibrate``, see docs/hybrid.md); ``lexicon``: the word
    list (name in the weights folder or path; empty: none) that corrects near-miss words of CTC
    recognizers; ``cloud_threshold``:
    words whose best reading is still under it go to the cloud engine (when credentials
    exist; not calibrated: no cloud access where it was built). ``fallback_timeout``: seconds one fallback call
    may take before its answer is ignored. ``threads``: onnxruntime intra-op threads (0: auto).
    ``cloud_*``: Google Cloud Vision (``cloud_key_file`` else Application Default
    Credentials; ``cloud_endpoint`` overrides the API address; ``cloud_max_requests`` is the
    per-run request budget).
    """

    detector: str = "student-int8"
    recognizer: str = "recognizer_medium.int8"
    lexicon: str | None = "lexicon_en"
    text_threshold: float = 0.7
    link_threshold: float = 0.4
    low_text: float = 0.4
    canvas_size: int = 1280
    crop_margin: float = 0.1
    fallback_threshold: float = 0.7
    cloud_threshold: float = 0.3
    fallback_timeout: float = 10.0
    threads: int = 0
    cloud_key_file: str | None = None
    cloud_endpoint: str | None = None
    cloud_language_hints: tuple[str, ...] = ("en",)
    cloud_timeout: float = 10.0
    cloud_retries: int = 3
    cloud_max_requests: int = 20

    def __post_init__(self) -> None:
        for name in ("text_threshold", "link_threshold", "low_text", "fallback_threshold", "cloud_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("fallback_timeout", "cloud_timeout"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("threads", "cloud_retries", "cloud_max_requests", "crop_margin"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.canvas_size < 32:
            raise UsageError(f"canvas_size must be at least 32, got {self.canvas_size}")


_FIELD_TYPES: dict[str, str] = {f.name: str(f.type) for f in fields(PipelineConfig)}


def _convert(name: str, value: Any, origin: str) -> Any:
    """``value`` (from a file or the environment) as the type of field ``name``."""
    kind = _FIELD_TYPES[name]
    try:
        if kind == "tuple[str, ...]":
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(item).strip() for item in items if str(item).strip())
        if kind == "str | None":
            return None if value in (None, "") else str(value)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise UsageError(f"{origin}: {name} must be {kind}, got {value!r}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The pipeline settings of a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

    Keys are :class:`PipelineConfig` field names, at the top level or under a
    ``[pipeline]`` table; unknown keys are refused.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"config file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(raw) or {}
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except Exception as exc:  # any parse error of either format is the user's to fix
        raise UsageError(f"config file {path} is not valid: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a table of settings")
    if isinstance(data.get("pipeline"), dict):
        data = data["pipeline"]
    unknown = sorted(set(data) - set(_FIELD_TYPES))
    if unknown:
        raise UsageError(f"config file {path}: unknown setting {unknown[0]!r} (known: {', '.join(_FIELD_TYPES)})")
    return {name: _convert(name, value, str(path)) for name, value in data.items()}


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The pipeline settings given as ``OCR_<FIELD>`` variables (e.g. ``OCR_FALLBACK_THRESHOLD=0.6``)."""
    settings = {}
    for name in _FIELD_TYPES:
        variable = ENV_PREFIX + name.upper()
        if variable in environ:
            settings[name] = _convert(name, environ[variable], variable)
    return settings


def load_pipeline_config(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PipelineConfig:
    """Defaults ← ``config_file`` (else ``$OCR_CONFIG``) ← ``OCR_*`` variables ← ``overrides``.

    ``overrides`` (the CLI flags) whose value is ``None`` are ignored.
    """
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(CONFIG_ENV) or None
    settings: dict[str, Any] = read_config_file(config_file) if config_file else {}
    settings.update(read_environment(environ))
    settings.update({k: _convert(k, v, "option") for k, v in (overrides or {}).items() if v is not None})
    return replace(PipelineConfig(), **settings)


@dataclass(frozen=True)
class ScanOptions:
    """How to read an input.

    ``engine``: a name from :func:`ocr.engines.engine_names`; ``mode``: see :data:`Mode`;
    ``lang``: the engine's language code(s), Tesseract style (``eng``, ``eng+deu``);
    ``dpi``: resolution PDF pages are rendered at; ``max_pixels``: largest page accepted
    (also the guard against decompression bombs); ``max_pages``: most pages accepted in
    one PDF or TIFF (``None``: no limit); ``pipeline``: settings of the neural and
    hybrid engines.
    """

    engine: str = DEFAULT_ENGINE
    mode: Mode = "page"
    lang: str = "eng"
    dpi: int = DEFAULT_DPI
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_pages: int | None = None
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.lang or any(not code for code in self.lang.split("+")):
            raise UsageError(f"invalid language {self.lang!r} (expected e.g. 'eng' or 'eng+deu')")
        if self.dpi <= 0:
            raise UsageError(f"dpi must be positive, got {self.dpi}")
        if self.max_pixels <= 0:
            raise UsageError(f"max_pixels must be positive, got {self.max_pixels}")
        if self.max_pages is not None and self.max_pages <= 0:
            raise UsageError(f"max_pages must be positive, got {self.max_pages}")
