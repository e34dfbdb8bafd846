"""Settings: one typed, immutable options object that every face builds and engines consume.

The faces build :class:`ScanOptions` from :class:`Settings` (pydantic-settings), layered by
:func:`load_settings`: defaults ← config file (TOML or YAML, named by ``--config`` or
``$OCR_CONFIG``) ← environment (``OCR_<FIELD>``) ← CLI flags. The neural and hybrid engines
take their models, thresholds, threads and cloud settings from :class:`PipelineConfig`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, get_args, get_origin, get_type_hints

import yaml
from pydantic import ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, InitSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from .errors import UsageError

Mode = Literal["page", "line"]
"""``page``: find and read all text; ``line``: the whole image is one line or word (no detection)."""

MODES: tuple[str, ...] = get_args(Mode)

Rotate = Literal["auto", "off"]
"""``auto``: find each page's rotation and skew and undo them before reading; ``off``: read pages as given."""

ROTATES: tuple[str, ...] = get_args(Rotate)

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

    ``detector``: one of :data:`ocr.detection.DETECTOR_NAMES` (``auto``: the student, and for photographs the
    student trained on them too, see README "Models"); ``recognizer``: a model
    name in the weights folder (``<name>.onnx`` + ``.json``) or an ``.onnx`` path.
    ``text_height``: the detector magnifies a page no more than brings its characters to about
    this many pixels (0: by ``canvas_size`` alone; 16: measured on held-out training pages, see
    docs/hybrid.md). ``max_canvas_size``: pages longer than ``canvas_size`` / 0.6 (a 300 dpi scan) keep
    0.6 of their resolution for the detector, up to this long side (0: ``canvas_size`` for every page; see
    docs/hybrid.md, "Large pages"). ``faint_text``: isolated characters the detector scores above this but under
    ``text_threshold`` (a lone ``1``) are read alone and kept when the recognizer reads a letter or digit
    with at least ``faint_confidence`` (0: off; see docs/hybrid.md). ``fallback_threshold``: words the recognizer reads with less confidence are re-read by
    Tesseract (0.3, the words a page would otherwise leave out at ``min_confidence``: on held-out training
    pages it reads within 0.12 points of 0.5 with 60 % fewer re-readings; see docs/hybrid.md). ``min_confidence``: words whose final
    reading is less sure are left out of a page (not in line mode; 0: every word kept; 0.3: measured on
    held-out training pages, see docs/hybrid.md); ``lexicon``: the word
    list (name in the weights folder or path; empty: none) that corrects near-miss words of CTC
    recognizers; ``cloud_threshold``:
    words whose best reading is still under it go to the cloud engine (when credentials
    exist; not calibrated: no cloud access where it was built). ``fallback_timeout``: seconds one fallback call
    may take before its answer is ignored. ``combine``: the hybrid has Tesseract read the whole page and
    decides every word between the two readings (:class:`ocr.routing.Combiner`) instead of re-reading the
    words under ``fallback_threshold`` (off by default: more accurate on every dev set, but slower than
    Tesseract alone; see docs/hybrid.md). ``threads``: onnxruntime intra-op threads (0: auto).
    ``cloud_*``: Google Cloud Vision (``cloud_key_file`` else Application Default
    Credentials; ``cloud_endpoint`` overrides the API address; ``cloud_max_requests`` is the
    per-run request budget).
    """

    detector: str = "auto"
    recognizer: str = "recognizer_medium.int8"
    lexicon: str | None = "lexicon_en"
    text_threshold: float = 0.7
    link_threshold: float = 0.4
    low_text: float = 0.4
    canvas_size: int = 1280
    max_canvas_size: int = 2048
    text_height: float = 16.0
    crop_margin: float = 0.1
    faint_text: float = 0.25
    faint_confidence: float = 0.9
    fallback_threshold: float = 0.3
    min_confidence: float = 0.3
    cloud_threshold: float = 0.3
    fallback_timeout: float = 10.0
    combine: bool = False
    threads: int = 0
    cloud_key_file: str | None = None
    cloud_endpoint: str | None = None
    cloud_language_hints: tuple[str, ...] = ("en",)
    cloud_timeout: float = 10.0
    cloud_retries: int = 3
    cloud_max_requests: int = 20

    def __post_init__(self) -> None:
        for name in ("text_threshold", "link_threshold", "low_text", "faint_text", "faint_confidence",
                     "fallback_threshold", "min_confidence", "cloud_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UsageError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("fallback_timeout", "cloud_timeout"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("threads", "cloud_retries", "cloud_max_requests", "crop_margin", "text_height",
                     "max_canvas_size"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.canvas_size < 32:
            raise UsageError(f"canvas_size must be at least 32, got {self.canvas_size}")


class CommonSettings(BaseSettings):
    """The settings of every face that are not the pipeline's (engine, language, dpi), and what reads them;
    :data:`Settings` adds every :class:`PipelineConfig` field."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    engine: str = DEFAULT_ENGINE
    lang: str = "eng"
    dpi: int = DEFAULT_DPI

    @field_validator("lexicon", "cloud_key_file", "cloud_endpoint", mode="before", check_fields=False)
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """An empty setting turns the word list, key file or endpoint off."""
        return None if value == "" else value

    @field_validator("cloud_language_hints", mode="before", check_fields=False)
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """``"de, en"`` (an environment variable) as ``("de", "en")``."""
        return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value

    @property
    def pipeline(self) -> PipelineConfig:
        """The pipeline's part of these settings (its ranges checked)."""
        return PipelineConfig(**{f.name: getattr(self, f.name) for f in fields(PipelineConfig)})

    def scan_options(self, **options: Any) -> ScanOptions:
        """:class:`ScanOptions` with these settings' engine, language, dpi and pipeline, and ``options``."""
        return ScanOptions(engine=self.engine, lang=self.lang, dpi=self.dpi, pipeline=self.pipeline, **options)


def _pipeline_field(kind: Any, default: Any) -> tuple[Any, Any]:
    # Environment values of tuple fields are comma-separated lists, not JSON.
    return (Annotated[kind, NoDecode] if get_origin(kind) is tuple else kind), default


Settings = create_model(
    "Settings",
    __base__=CommonSettings,
    __doc__="""What every face (``scan``, ``batch``, ``serve``) reads from the config file and ``OCR_*``
    variables: the engine, language and dpi, and every :class:`PipelineConfig` field. Built by
    :func:`load_settings`.""",
    **{f.name: _pipeline_field(get_type_hints(PipelineConfig)[f.name], f.default) for f in fields(PipelineConfig)},
)


SETTINGS_KEYS: tuple[str, ...] = tuple(Settings.model_fields)
"""The keys a config file may hold (the ``OCR_<KEY>`` variables are the same, upper-cased)."""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings of a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file, as written (checked by
    :func:`load_settings`).

    Keys are :class:`Settings` field names, at the top level or under a ``[pipeline]``
    table; unknown keys are refused.
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
        data = {**{k: v for k, v in data.items() if k != "pipeline"}, **data["pipeline"]}
    unknown = sorted(set(data) - set(SETTINGS_KEYS))
    if unknown:
        raise UsageError(f"config file {path}: unknown setting {unknown[0]!r} (known: {', '.join(SETTINGS_KEYS)})")
    return data


def load_settings(config_file: str | Path | None = None,
                  overrides: Mapping[str, Any] | None = None) -> CommonSettings:
    """Defaults ← ``config_file`` (else ``$OCR_CONFIG``) ← ``OCR_*`` variables ← ``overrides``.

    ``overrides`` (the CLI flags) whose value is ``None`` are ignored. A value of the wrong
    type or out of range raises :class:`UsageError` naming where it came from.
    """
    path = config_file or os.environ.get(CONFIG_ENV) or None
    from_file = read_config_file(path) if path else {}
    flags = {name: value for name, value in (overrides or {}).items() if value is not None}

    class Layered(Settings):
        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                       env_settings: PydanticBaseSettingsSource, **others: PydanticBaseSettingsSource,
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, InitSettingsSource(settings_cls, from_file)

    def origin(name: str) -> str:
        variable = ENV_PREFIX + name.upper()
        if name in flags:
            return "option"
        return variable if variable in os.environ else f"config file {path}"

    try:
        layered = Layered(**flags)
        _ = layered.pipeline  # PipelineConfig checks its ranges
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        raise UsageError(f"{origin(name)}: {name}: {error['msg'].lower()}, got {error['input']!r}") from None
    except SettingsError as exc:
        raise UsageError(' '.join(str(exc).split())) from None
    return Settings.model_construct(**dict(layered))


def load_pipeline_config(config_file: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
                         ) -> PipelineConfig:
    """The pipeline's part of :func:`load_settings`."""
    return load_settings(config_file, overrides).pipeline


@dataclass(frozen=True)
class ScanOptions:
    """How to read an input.

    ``engine``: a name from :func:`ocr.engines.engine_names`; ``mode``: see :data:`Mode`;
    ``lang``: the engine's language code(s), Tesseract style (``eng``, ``eng+deu``);
    ``dpi``: resolution PDF pages are rendered at; ``max_pixels``: largest page accepted
    (also the guard against decompression bombs); ``max_pages``: most pages accepted in
    one PDF or TIFF (``None``: no limit); ``rotate``: see :data:`Rotate`; ``pipeline``:
    settings of the neural and hybrid engines.
    """

    engine: str = DEFAULT_ENGINE
    mode: Mode = "page"
    lang: str = "eng"
    dpi: int = DEFAULT_DPI
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_pages: int | None = None
    rotate: Rotate = "auto"
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.lang or any(not code for code in self.lang.split("+")):
            raise UsageError(f"invalid language {self.lang!r} (expected e.g. 'eng' or 'eng+deu')")
        if self.rotate not in ROTATES:
            raise UsageError(f"rotate must be one of {', '.join(ROTATES)}, got {self.rotate!r}")
        if self.dpi <= 0:
            raise UsageError(f"dpi must be positive, got {self.dpi}")
        if self.max_pixels <= 0:
            raise UsageError(f"max_pixels must be positive, got {self.max_pixels}")
        if self.max_pages is not None and self.max_pages <= 0:
            raise UsageError(f"max_pages must be positive, got {self.max_pages}")
