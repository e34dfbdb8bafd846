"""Google Cloud Vision: the ``cloud`` engine and the last fallback of the hybrid chain.

Requests go through the official ``google-cloud-vision`` client (the ``cloud`` extra),
as ``document_text_detection`` with the configured ``language_hints``. As a fallback,
the low-confidence regions of a page are cut out and stacked into one mosaic image (one
request for many regions), and every word Vision finds is mapped back to the region it
lies in.

Credentials: ``cloud_key_file`` (a service-account JSON key) or Application Default
Credentials from a file (``$GOOGLE_APPLICATION_CREDENTIALS`` or gcloud's
``application_default_credentials.json``). The metadata server of Compute Engine is
never probed. Without credentials the hybrid chain has no cloud step (and says nothing).

Robustness: every attempt has ``cloud_timeout`` seconds; 429 (RESOURCE_EXHAUSTED) and
503 (UNAVAILABLE) are retried up to ``cloud_retries`` times with exponential backoff;
each attempt counts against the per-run budget ``cloud_max_requests``. Failures raise
:class:`~ocr.errors.EngineError`, which the router turns into a notice while keeping
the local readings. The client is thread-safe; the request counter is guarded by a lock.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..config import Mode, PipelineConfig, ScanOptions, load_pipeline_config
from ..document import Page, Polygon, Word, box_polygon
from ..errors import EngineError, EngineUnavailable
from ..layout import build_blocks
from ..recognition.crops import crop_region
from ..routing import Candidate
from .base import Engine

NAME = "cloud"
MOSAIC_GAP = 24
"""White pixels around and between regions of a mosaic."""
MOSAIC_MAX_HEIGHT = 4000
"""A mosaic taller than this is split into several requests."""
REGION_MARGIN = 0.15
"""Padding cut around each region, as a share of its height."""
BACKOFF_SECONDS = 0.2
"""First wait before a retry; doubled after each one (at most :data:`MAX_BACKOFF_SECONDS`)."""
MAX_BACKOFF_SECONDS = 5.0
CLOUD_BACKOFF_BUDGET = 30.0
"""Upper bound on the waits between retries of one call, for the router's time limit."""

logger = logging.getLogger(__name__)


def _import_vision() -> Any:
    try:
        from google.cloud import vision
    except ImportError:
        raise EngineError("google-cloud-vision is not installed: pip install 'ocr[cloud]'") from None
    return vision


def credentials_file(config: PipelineConfig) -> Path | None:
    """The credentials file the cloud engine would use, or ``None`` when none is configured."""
    if config.cloud_key_file:
        return Path(config.cloud_key_file)
    configured = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud")
    well_known = base / "application_default_credentials.json"
    return well_known if well_known.is_file() else None


def load_credentials(config: PipelineConfig) -> Any:
    """Google credentials from the key file or ADC file; :class:`EngineError` when unusable or absent."""
    path = credentials_file(config)
    if path is None:
        raise EngineUnavailable("no Google Cloud credentials (set cloud_key_file or GOOGLE_APPLICATION_CREDENTIALS)")
    import json

    from google.auth.exceptions import GoogleAuthError
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    scopes = ["https://www.googleapis.com/auth/cloud-vision"]
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("type")
        if kind == "service_account":
            credentials = service_account.Credentials.from_service_account_file(str(path), scopes=scopes)
        elif kind == "authorized_user":
            credentials = user_credentials.Credentials.from_authorized_user_file(str(path), scopes=scopes)
        else:
            raise ValueError(f"type {kind!r} is not service_account or authorized_user")
    except (GoogleAuthError, OSError, ValueError, AttributeError) as exc:
        raise EngineError(f"cloud: unusable credentials file {path}: {' '.join(str(exc).split())}") from None
    return credentials


@dataclass(frozen=True)
class VisionWord:
    """A word of a Vision answer: text, confidence and box (x0, y0, x1, y1) in request-image pixels."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


def parse_words(response: Any) -> list[VisionWord]:
    """The words of an ``AnnotateImageResponse``; :class:`EngineError` for an error or malformed answer."""
    if response.error.code:
        raise EngineError(f"cloud: the API answered error {response.error.code}: {response.error.message}")
    words = []
    for page in response.full_text_annotation.pages:
        for block in page.blocks:
            for paragraph in block.paragraphs:
                for word in paragraph.words:
                    text = "".join(symbol.text for symbol in word.symbols)
                    vertices = word.bounding_box.vertices
                    if not text or len(vertices) < 4:
                        raise EngineError("cloud: malformed answer (a word without text or outline)")
                    xs, ys = [v.x for v in vertices], [v.y for v in vertices]
                    confidence = min(max(float(word.confidence), 0.0), 1.0)
                    words.append(VisionWord(text, confidence, (min(xs), min(ys), max(xs), max(ys))))
    return words


@dataclass(frozen=True)
class Slot:
    """Where region ``index`` sits in a mosaic: rows ``top``..``bottom``."""

    index: int
    top: int
    bottom: int


def build_mosaics(crops: Sequence[np.ndarray]) -> list[tuple[np.ndarray, list[Slot]]]:
    """Stack crops top to bottom on white, :data:`MOSAIC_GAP` apart, in mosaics of bounded height."""
    mosaics: list[tuple[np.ndarray, list[Slot]]] = []
    group: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        if not group:
            return
        width = max(c.shape[1] for _, c in group) + 2 * MOSAIC_GAP
        height = sum(c.shape[0] + MOSAIC_GAP for _, c in group) + MOSAIC_GAP
        canvas = np.full((height, width, 3), 255, np.uint8)
        slots, y = [], MOSAIC_GAP
        for index, crop in group:
            canvas[y:y + crop.shape[0], MOSAIC_GAP:MOSAIC_GAP + crop.shape[1]] = crop
            slots.append(Slot(index, y, y + crop.shape[0]))
            y += crop.shape[0] + MOSAIC_GAP
        mosaics.append((canvas, slots))
        group.clear()

    used = MOSAIC_GAP
    for index, crop in enumerate(crops):
        if crop.size == 0:
            continue
        if group and used + crop.shape[0] + MOSAIC_GAP > MOSAIC_MAX_HEIGHT:
            flush()
            used = MOSAIC_GAP
        group.append((index, crop))
        used += crop.shape[0] + MOSAIC_GAP
    flush()
    return mosaics


def assign_words(words: Sequence[VisionWord], slots: Sequence[Slot]) -> dict[int, list[VisionWord]]:
    """Vision's words of a mosaic grouped by the region (slot) holding their centre, left to right."""
    found: dict[int, list[VisionWord]] = {}
    for word in words:
        centre = (word.box[1] + word.box[3]) / 2
        for slot in slots:
            if slot.top - MOSAIC_GAP / 2 <= centre < slot.bottom + MOSAIC_GAP / 2:
                found.setdefault(slot.index, []).append(word)
                break
    return {index: sorted(ws, key=lambda w: w.box[0]) for index, ws in found.items()}


def _png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


class CloudVision:
    """A Cloud Vision client with timeouts, retries and a request budget (see the module doc).

    ``channel``: a ready gRPC channel (tests give an insecure one to a local server);
    otherwise the client connects to ``cloud_endpoint`` or Google with the credentials.
    """

    name = NAME

    def __init__(self, config: PipelineConfig, channel: Any = None) -> None:
        vision = _import_vision()
        self.vision = vision
        self.config = config
        if channel is not None:
            from google.cloud.vision_v1.services.image_annotator.transports import ImageAnnotatorGrpcTransport

            self.client = vision.ImageAnnotatorClient(transport=ImageAnnotatorGrpcTransport(channel=channel))
        else:
            options = {"api_endpoint": config.cloud_endpoint} if config.cloud_endpoint else None
            self.client = vision.ImageAnnotatorClient(credentials=load_credentials(config), client_options=options)
        self._lock = threading.Lock()
        self.requests = 0

    def _spend(self) -> None:
        with self._lock:
            if self.requests >= self.config.cloud_max_requests:
                raise EngineError(f"cloud: request budget of {self.config.cloud_max_requests} spent")
            self.requests += 1

    def annotate(self, image: np.ndarray) -> list[VisionWord]:
        """``document_text_detection`` of ``image``, retried on 429/503; its words."""
        from google.api_core import exceptions as api

        request = {
            "image": {"content": _png(image)},
            "features": [{"type_": self.vision.Feature.Type.DOCUMENT_TEXT_DETECTION}],
            "image_context": {"language_hints": list(self.config.cloud_language_hints)},
        }
        wait = BACKOFF_SECONDS
        for attempt in range(self.config.cloud_retries + 1):
            self._spend()
            try:
                answer = self.client.batch_annotate_images(requests=[request], timeout=self.config.cloud_timeout,
                                                           retry=None)
                if len(answer.responses) != 1:
                    raise EngineError(f"cloud: malformed answer ({len(answer.responses)} responses to 1 request)")
                return parse_words(answer.responses[0])
            except (api.TooManyRequests, api.ResourceExhausted, api.ServiceUnavailable) as exc:
                if attempt == self.config.cloud_retries:
                    raise EngineError(f"cloud: gave up after {attempt + 1} attempts: {exc.message}") from None
                time.sleep(wait)
                wait = min(2 * wait, MAX_BACKOFF_SECONDS)
            except api.DeadlineExceeded:
                raise EngineError(f"cloud: no answer within {self.config.cloud_timeout:g} s") from None
            except (api.PermissionDenied, api.Unauthenticated) as exc:
                raise EngineError(f"cloud: access refused: {exc.message}") from None
            except api.GoogleAPICallError as exc:
                raise EngineError(f"cloud: request failed: {exc.message}") from None
        raise AssertionError("unreachable")

    def read_regions(self, image: np.ndarray, polygons: Sequence[Polygon]) -> list[Candidate | None]:
        """Read ``polygons`` of ``image`` in as few requests as mosaics allow."""
        readings: list[Candidate | None] = [None] * len(polygons)
        crops = [np.ascontiguousarray(crop_region(image, p, REGION_MARGIN)) for p in polygons]
        for mosaic, slots in build_mosaics(crops):
            found = assign_words(self.annotate(mosaic), slots)
            for slot in slots:
                words = found.get(slot.index, [])
                if not words:
                    readings[slot.index] = Candidate("", 0.0, NAME)
                    continue
                weights = [len(w.text) for w in words]
                confidence = sum(w.confidence * k for w, k in zip(words, weights)) / sum(weights)
                readings[slot.index] = Candidate(" ".join(w.text for w in words), confidence, NAME)
        return readings


class CloudEngine(Engine):
    """Google Cloud Vision document text detection (needs credentials and the network)."""

    name = NAME

    def __init__(self, config: PipelineConfig = PipelineConfig(), channel: Any = None) -> None:
        self.client = CloudVision(config, channel)

    @classmethod
    def from_options(cls, options: ScanOptions) -> CloudEngine:
        return cls(options.pipeline)

    @classmethod
    def availability(cls) -> str | None:
        try:
            _import_vision()
        except EngineError as exc:
            return str(exc)
        return _credentials_problem(load_pipeline_config())

    def read(self, image: np.ndarray, mode: Mode = "page", index: int = 0) -> Page:
        height, width = image.shape[:2]
        words = [Word(w.text, box_polygon(*w.box), w.confidence, NAME) for w in self.client.annotate(image)]
        return Page(index, width, height, build_blocks(words) if words else ())


def _credentials_problem(config: PipelineConfig) -> str | None:
    """Why the credentials of ``config`` cannot be used (``None`` when a credentials file exists)."""
    path = credentials_file(config)
    if path is None:
        return "no Google Cloud credentials (set cloud_key_file or GOOGLE_APPLICATION_CREDENTIALS)"
    return None if path.is_file() else f"Google Cloud credentials file not found: {path}"


def cloud_stage_reader(config: PipelineConfig) -> tuple[CloudVision | None, str | None]:
    """The cloud fallback for the hybrid chain, or ``None`` and why it is skipped.

    Without credentials the cloud is simply not part of the chain (logged at debug level, no
    notice); the notice is for credentials that are configured but cannot be used.
    """
    if credentials_file(config) is None:
        logger.debug("cloud step off: no Google Cloud credentials configured")
        return None, None
    try:
        _import_vision()
        return CloudVision(config), None
    except EngineError as exc:
        return None, f"cloud step skipped: {exc}"
