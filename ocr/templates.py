"""Structured fields read from fixed regions of an image, validated, with engine fallback.

A template (JSON or YAML) names regions of an image and what each must hold::

    name: scoreboard
    engines: [neural, tesseract, cloud]     # the fallback order (optional)
    fields:
      - {name: home_team, box: [60, 212, 420, 268], pattern: "[A-Za-z .'-]+"}
      - {name: score, box: [330, 320, 630, 440], pattern: "\\d+ ?- ?\\d+"}
      - {name: attendance, box: [340, 462, 620, 502], type: int, pattern: "Attendance (?P<value>[\\d,]+)"}

``box`` is ``[x0, y0, x1, y1]`` in pixels; ``type`` is ``str`` (default), ``int`` or
``date``; ``pattern`` a regular expression the whole reading must match (its group
``value``, when present, is the part converted to the type) after stray marks at its
ends (:data:`EDGE_JUNK`) are stripped; ``min_confidence`` (default
0.5) the confidence a reading needs.

Each field's region is read as one line by the first engine; a reading that fails its
pattern, type or confidence is re-read by the next engine, and the first valid reading
wins. When none is valid the most confident reading that matches the pattern (else the
most confident of all) is reported with ``valid: false``. Every reading is kept in the
field's ``alternatives``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import yaml

from .config import ScanOptions
from .errors import OcrError, UsageError
from .engines import Engine, availability, create_engine, engine_class

FieldType = Literal["str", "int", "date"]
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d %b %Y", "%d %B %Y")
"""Accepted spellings of a ``date`` field (day before month)."""
DEFAULT_ENGINES = ("neural", "tesseract", "cloud")
EDGE_JUNK = " ~|—–_'\"`‘’“”"
"""Characters engines read into the edges of a region (rules, panel borders), stripped before matching."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TemplateField:
    """One region to read and the rules its reading must meet."""

    name: str
    box: tuple[float, float, float, float]
    type: FieldType = "str"
    pattern: str | None = None
    min_confidence: float = 0.5


@dataclass(frozen=True)
class Template:
    """A named list of fields and the engines that read them, in fallback order."""

    name: str
    fields: tuple[TemplateField, ...]
    engines: tuple[str, ...] = DEFAULT_ENGINES


def _field(raw: Any, where: str) -> TemplateField:
    if not isinstance(raw, dict) or "name" not in raw or "box" not in raw:
        raise UsageError(f"{where}: every field needs a name and a box")
    unknown = set(raw) - {"name", "box", "type", "pattern", "min_confidence"}
    if unknown:
        raise UsageError(f"{where}: field {raw['name']!r} has unknown key {sorted(unknown)[0]!r}")
    box = raw["box"]
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)
            and box[0] < box[2] and box[1] < box[3]):
        raise UsageError(f"{where}: field {raw['name']!r}: box must be [x0, y0, x1, y1] with x0 < x1, y0 < y1")
    kind = raw.get("type", "str")
    if kind not in ("str", "int", "date"):
        raise UsageError(f"{where}: field {raw['name']!r}: type must be str, int or date, got {kind!r}")
    pattern = raw.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"{where}: field {raw['name']!r}: bad pattern: {exc}") from None
    return TemplateField(str(raw["name"]), tuple(float(v) for v in box), kind, pattern,  # type: ignore[arg-type]
                         float(raw.get("min_confidence", 0.5)))


def load_template(path: str | Path) -> Template:
    """The template in ``path`` (``.json``, ``.yaml`` or ``.yml``); one-line :class:`UsageError` when invalid."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except OSError as exc:
        raise UsageError(f"template {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # a parse error of either format
        raise UsageError(f"template {path} is not valid: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not isinstance(data.get("fields"), list) or not data["fields"]:
        raise UsageError(f"template {path}: needs a non-empty list 'fields'")
    fields = tuple(_field(raw, f"template {path}") for raw in data["fields"])
    engines = data.get("engines", DEFAULT_ENGINES)
    if isinstance(engines, str):  # one engine, or several separated by commas
        engines = [name.strip() for name in engines.split(",")]
    if not isinstance(engines, (list, tuple)) or not engines or not all(isinstance(e, str) and e for e in engines):
        raise UsageError(f"template {path}: engines must be an engine name or a list of them")
    for name in engines:
        try:
            engine_class(name)
        except UsageError as exc:
            raise UsageError(f"template {path}: {exc}") from None
    return Template(str(data.get("name", path.stem)), fields, tuple(engines))


def convert(field: TemplateField, text: str) -> tuple[bool, Any]:
    """Whether ``text`` meets ``field``'s pattern and type, and its typed value (``None`` if not)."""
    text = " ".join(text.split()).strip(EDGE_JUNK)
    part = text
    if field.pattern is not None:
        match = re.fullmatch(field.pattern, text)
        if match is None:
            return False, None
        part = match.group("value") if "value" in match.re.groupindex else text
    if field.type == "int":
        digits = part.replace(",", "").replace(" ", "")
        return (True, int(digits)) if re.fullmatch(r"[+-]?\d+", digits) else (False, None)
    if field.type == "date":
        for fmt in DATE_FORMATS:
            try:
                return True, datetime.strptime(part, fmt).date().isoformat()
            except ValueError:
                continue
        return False, None
    return (bool(part), part or None)


@dataclass(frozen=True)
class FieldReading:
    """One engine's reading of a field."""

    text: str
    confidence: float
    source: str
    matches: bool
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": self.confidence, "source": self.source}


def _crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    height, width = image.shape[:2]
    return np.ascontiguousarray(image[max(0, y0):min(height, y1), max(0, x0):min(width, x1)])


class TemplateReader:
    """Reads templates with a chain of engines loaded once (engines that cannot run are skipped with a notice)."""

    def __init__(self, template: Template, options: ScanOptions, engines: Sequence[Engine] | None = None) -> None:
        self.template = template
        self.notices: list[str] = []
        if engines is None:
            engines = []
            for name in template.engines:
                reason = availability(name)
                try:
                    if reason is not None:
                        raise OcrError(reason)
                    engines.append(create_engine(name, options))
                except OcrError as exc:
                    self._notice(f"template engine '{name}' skipped: {exc}")
            if not engines:
                raise UsageError(f"template {template.name}: none of its engines can run here")
        self.engines = list(engines)

    def _notice(self, message: str) -> None:
        if message not in self.notices:
            self.notices.append(message)
            logger.warning("%s", message)

    def _read(self, engine: Engine, crop: np.ndarray, field: TemplateField) -> FieldReading | None:
        try:
            page = engine.read(crop, "line")
        except Exception as exc:  # a failing engine passes the field on to the next one
            self._notice(f"{engine.name} failed on field {field.name}: {' '.join(str(exc).split())}")
            return None
        lines = list(page.lines)
        text = " ".join(line.text for line in lines)
        words = [w for line in lines for w in line.words]
        weights = [max(len(w.text), 1) for w in words]
        confidence = sum(w.confidence * k for w, k in zip(words, weights)) / sum(weights) if words else 0.0
        sources = {w.source for w in words}
        source = sources.pop() if len(sources) == 1 else engine.name
        matches, value = convert(field, text)
        return FieldReading(text, confidence, source, matches, value)

    def read_field(self, image: np.ndarray, field: TemplateField) -> dict[str, Any]:
        """The record of one field: value, text, confidence, source, valid and the other readings."""
        crop = _crop(image, field.box)
        readings: list[FieldReading] = []
        winner: FieldReading | None = None
        for engine in self.engines:
            reading = self._read(engine, crop, field) if crop.size else None
            if reading is None:
                continue
            readings.append(reading)
            if reading.matches and reading.confidence >= field.min_confidence:
                winner = reading
                break
        valid = winner is not None
        if winner is None and readings:
            winner = max(readings, key=lambda r: (r.matches, r.confidence))
        if winner is None:
            return {"value": None, "text": "", "confidence": 0.0, "source": None, "valid": False, "alternatives": []}
        return {
            "value": winner.value, "text": winner.text, "confidence": winner.confidence, "source": winner.source,
            "valid": valid, "alternatives": [r.to_dict() for r in readings if r is not winner],
        }

    def read(self, image: np.ndarray, source: str) -> dict[str, Any]:
        """One record for ``image``: every field of the template."""
        return {"source": source, "template": self.template.name,
                "fields": {f.name: self.read_field(image, f) for f in self.template.fields}}


def record_json(record: dict[str, Any]) -> str:
    """A record as one JSON line (dates are already ISO strings)."""
    return json.dumps(record, ensure_ascii=False, default=lambda v: v.isoformat() if isinstance(v, date) else str(v))
