"""Page rotation (0/90/180/270) and skew (up to ±15°), found and undone before any engine reads.

How a page is set upright (chosen by measurement, see README "Orientation, skew and searchable PDF"):

1. **Skew** from the ink alone: the page is scaled to :data:`WORK_SIDE` pixels, binarized,
   and its ink pixels are projected across lines at angles within ±:data:`MAX_SKEW`°; text
   lines make the profile peaky, and the sharpest profile gives their angle.
2. **Which way up**: a few pieces of text line (:func:`line_bands`) are cut at the recognizer's
   height, straightened, and read as they are and half-turned; the way the recognizer reads
   the most characters surely wins (:meth:`Orienter.certainty`). Unless that is clear
   (:data:`SURE`), the page is tried again with its lines running down it (turned a quarter).
3. **Other scripts**: when the recognizer reads next to nothing any way up (:data:`LEGIBLE`: Arabic,
   Devanagari, a nearly empty form), Tesseract's orientation and script detection decides
   (:func:`osd_rotation`, in process through tesserocr); when it cannot, the recognizer's guess stands.
4. **Photographs** (not :func:`~ocr.detection.page_kind.is_paper`) are turned only where the recognizer
   reads them clearly better so than as given (:data:`LEGIBLE`), and deskewed only where the lines'
   profile is clearly sharper (:data:`SKEW_GAIN`); OSD is not asked. Both guesses are coin flips on a
   street scene, and a photograph turned or skewed by a guess reads far worse than as it was taken.

:class:`Orientation` records what was found; :func:`transform` and :func:`to_input_frame`
move word outlines from the upright page back to the input image as given, in one place.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Sequence

import cv2
import numpy as np

from .detection.page_kind import is_paper
from .document import Block, Line, Page, Polygon, Word
from .engines.tesseract import open_api
from .errors import EngineError
from .recognition.predictor import Recognizer, batch_tensor, softmax
from .runtime import RuntimeConfig

MODEL = "recognizer_fast.int8"
"""The recognizer that reads the sample lines: the smallest, as only its certainty is used."""

MAX_SKEW = 15.0
"""Largest skew (degrees either way) looked for."""

WORK_SIDE = 1024
"""Longer side, in pixels, of the shrunk page the axis and skew are measured on."""

MAX_POINTS = 4_000
"""Most ink pixels projected per angle (a regular sample of them beyond that)."""

MIN_SKEW = 0.5
"""Skews under this many degrees are left alone: the engines read them as well, and the page
is not resampled."""

SKEW_GAIN = 1.3
"""How many times sharper (see :func:`_sharpness`) the ink's profile across the lines of a photograph
must be at the skew found than at none for the skew to be undone. On the held-out training pages (15
FUNSD, 24 SROIE, 10 DocBank) turned by 3° or more it is at least 1.35 (5°: 1.54); in street photographs,
whose ink is not lines of text, it is mostly 1.0–1.2, and their guessed skews of 4–17° cost more than
any gain."""

THREADS = 1
"""onnxruntime threads of the recognizer reading the sample lines. Its batch is small, and a pool's
threads spin on after each run, slowing the OpenCV work that follows: on 40 FUNSD and SROIE pages with
2 busy cores, the stage alone took 25 ms a page on one thread against 88 ms on onnxruntime's automatic
two (between the default engine's reads, whose own threads spin, the two measured alike)."""

SAMPLE_LINES = 4
"""Text lines read both ways to tell upright from upside down."""

LINE_WIDTH = 8
"""Longest part of a sample line read, in line heights."""

SURE = 40.0
"""Certainty (see :meth:`Orienter.certainty`) of the lines read across the page above which the
page is not also tried with its lines running down it."""

LETTER_GAP = 9
"""Ink closer than this many pixels across the shrunk page joins into one piece of line ..."""

GAP_PER_HEIGHT = 0.6
"""... or closer than this many times the median height of the pieces so joined, when that is half as
much again (large print)."""

MIN_LINE_HEIGHT = 5
"""Smallest height, in pixels of the shrunk page, of a piece of line worth reading."""

MIN_LETTERS = 4
"""Fewest separate pieces of ink a piece of line holds (a rule or a bar holds one)."""

MIN_ELONGATION = 2.0
"""Least width of a piece of line, in heights."""

LINE_PAD = 0.15
"""Rows added above and below a sample line, in line heights."""

ROTATIONS = (0, 90, 180, 270)

LEGIBLE = 3.0
"""Evidence (see :meth:`Orienter.certainty`; about the characters read surely) the best way up must reach
for the recognizer's choice to stand (and, on a photograph, by which it must beat the image as given). Under it the recognizer reads next to nothing any way up (another
script, or hardly any text), and Tesseract's OSD is asked (:func:`osd_rotation`). Not on pages it reads
but cannot orient (faint receipts read about as much both ways): asked also where the best way led the
next by less than this, on the first 60 pages of sroie_train turned every way, OSD put one page right and
two wrong; asked only under it, on the first 100, one right and none wrong (on the eval sets it set right
the four turned pages the recognizer had wrong, and none wrong)."""

OSD_MIN_CHARACTERS = 5
"""Fewest characters Tesseract's OSD tries a page with: its default, 50, refuses a one-line page, and 1
crashed Tesseract 5.3 (SIGFPE) on a page of one or two blobs."""

OSD_PSM = 0
"""Tesseract's page segmentation mode that only finds orientation and script."""

OSD_SIDE = 2048
"""Longer side, in pixels, beyond which the page is shrunk before OSD reads it: a 4800×3600 page took
0.35 s instead of 0.80 s, with the same answers on the pages tried every way; at 1024 it found none."""

FRAME_MARGIN = 0.02
"""White kept around a deskewed page's ink, as a fraction of its longer side."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Orientation:
    """How a page lies: ``rotation`` degrees clockwise from upright (0, 90, 180, 270) and then
    ``skew`` degrees counter-clockwise (its text lines rise to the right when positive)."""

    rotation: int = 0
    skew: float = 0.0
    frame: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    """The part of the deskewed canvas kept, as fractions (left, top, right, bottom) of its width and
    height: the page's ink and a margin, not the white corners that undoing the skew adds."""


def _matrix(orientation: Orientation, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """The 3×3 map from input pixels to the upright page, and the upright page's width and height."""
    quarters = orientation.rotation // 90 % 4
    turn = np.eye(3)
    w, h = (width, height) if quarters % 2 == 0 else (height, width)
    if quarters == 1:  # counter-clockwise a quarter
        turn = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, width], [0.0, 0.0, 1.0]])
    elif quarters == 2:
        turn = np.array([[-1.0, 0.0, width], [0.0, -1.0, height], [0.0, 0.0, 1.0]])
    elif quarters == 3:
        turn = np.array([[0.0, -1.0, height], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    if not orientation.skew:
        return turn, w, h
    angle = math.radians(orientation.skew)
    cos, sin = math.cos(angle), math.sin(angle)
    new_w = math.ceil(w * abs(cos) + h * abs(sin))
    new_h = math.ceil(w * abs(sin) + h * abs(cos))
    # rotate clockwise by skew about the page's centre, into a canvas that holds all of it
    to_origin = np.array([[1.0, 0.0, -w / 2], [0.0, 1.0, -h / 2], [0.0, 0.0, 1.0]])
    rotate = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    left, top, right, bottom = orientation.frame
    to_canvas = np.array([[1.0, 0.0, new_w * (0.5 - left)], [0.0, 1.0, new_h * (0.5 - top)], [0.0, 0.0, 1.0]])
    kept_w, kept_h = max(1, math.ceil(new_w * (right - left))), max(1, math.ceil(new_h * (bottom - top)))
    return to_canvas @ rotate @ to_origin @ turn, kept_w, kept_h


def transform(image: np.ndarray, orientation: Orientation) -> np.ndarray:
    """``image`` set upright: turned back by its rotation, then its skew undone (white fills the corners)."""
    if not orientation.skew:
        return np.ascontiguousarray(np.rot90(image, orientation.rotation // 90 % 4))
    matrix, width, height = _matrix(orientation, image.shape[1], image.shape[0])
    gray = image.ndim == 3 and _is_gray(image)  # a gray page's three equal channels are resampled once
    upright = cv2.warpAffine(image[:, :, 0] if gray else image, matrix[:2], (width, height),
                             flags=cv2.INTER_CUBIC,  # linear: 3.4 points less on FUNSD
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    return cv2.cvtColor(upright, cv2.COLOR_GRAY2RGB) if gray else upright


def _is_gray(image: np.ndarray) -> bool:
    """True when the three channels of ``image`` are equal (a gray or black-and-white page given as RGB),
    judged on every fourth row and column: only the engines' copy of the page is affected."""
    sample = image[::4, ::4]
    return np.array_equal(sample[:, :, 0], sample[:, :, 1]) and np.array_equal(sample[:, :, 1], sample[:, :, 2])


def _upright_mask(mask: np.ndarray, level: Orientation) -> np.ndarray:
    """The boolean ink ``mask`` set upright as ``level`` says (nearest pixels)."""
    if not level.skew:
        return np.ascontiguousarray(np.rot90(mask, level.rotation // 90 % 4))
    matrix, width, height = _matrix(level, mask.shape[1], mask.shape[0])
    return cv2.warpAffine(mask.astype(np.uint8), matrix[:2], (width, height), flags=cv2.INTER_NEAREST).astype(bool)


def to_input_frame(page: Page, orientation: Orientation, width: int, height: int) -> Page:
    """``page``, read on the upright image, with every outline moved back onto the ``width``×``height``
    input image, and the orientation recorded.

    Corners keep their order, so a polygon's first point is still its text's own top-left corner.
    """
    recorded = replace(page, width=width, height=height, rotation=orientation.rotation, skew=orientation.skew)
    if orientation == Orientation():
        return recorded
    back = np.linalg.inv(_matrix(orientation, width, height)[0])

    def move(polygon: Polygon) -> Polygon:
        points = np.array(polygon, dtype=np.float64)
        moved = points @ back[:2, :2].T + back[:2, 2]
        return tuple((round(float(x), 2), round(float(y), 2)) for x, y in moved)

    def move_word(word: Word) -> Word:
        return replace(word, polygon=move(word.polygon))

    def move_line(line: Line) -> Line:
        return Line(tuple(move_word(w) for w in line.words), move(line.polygon))

    blocks = tuple(Block(tuple(move_line(line) for line in block.lines), move(block.polygon)) for block in page.blocks)
    return replace(recorded, blocks=blocks)


# --------------------------------------------------------------------------- axis and skew


def ink(gray: np.ndarray) -> np.ndarray:
    """The gray page scaled to :data:`WORK_SIDE` on its longer side, as a boolean map of its ink."""
    scale = WORK_SIDE / max(gray.shape)
    gray = cv2.resize(gray, (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
    gray = cv2.medianBlur(gray, 3)  # specks of scanner noise are not ink
    binary = cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    return binary.astype(bool)


def _sharpness(ys: np.ndarray, xs: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """For each angle (degrees), how peaky the projection of the points across lines at that angle is."""
    radians = np.radians(angles)
    offsets = np.outer(ys, np.cos(radians)) - np.outer(xs, np.sin(radians))
    low = offsets.min(axis=0)
    bins = (offsets - low).astype(np.int64)
    span = int(bins.max()) + 1
    counts = np.bincount((bins + np.arange(len(angles)) * span).ravel(), minlength=span * len(angles))
    counts = counts.reshape(len(angles), span).astype(np.float64)
    return (counts**2).sum(axis=1) / max(len(ys), 1)


def _points(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the ink of ``mask`` in reading order, at most about :data:`MAX_POINTS` of them
    (OpenCV finds them about ten times faster than ``np.nonzero``)."""
    found = cv2.findNonZero(mask.astype(np.uint8))
    xy = np.empty((0, 2), np.int32) if found is None else found.reshape(-1, 2)
    step = max(1, len(xy) // MAX_POINTS)
    return xy[::step, 1].astype(np.float64), xy[::step, 0].astype(np.float64)


def _sharpest(ys: np.ndarray, xs: np.ndarray, offset: float) -> tuple[float, float]:
    """The angle within ±:data:`MAX_SKEW` of ``offset`` (degrees) across which the points' profile is
    sharpest, to a tenth of a degree (coarse to fine), and that sharpness."""
    best, step = 0.0, 2.0
    angles = np.arange(-MAX_SKEW - 1.0, MAX_SKEW + 1.01, step)
    while True:
        scores = _sharpness(ys, xs, angles + offset)
        best = float(angles[int(np.argmax(scores))])
        if step < 0.15:
            return best, float(scores.max())
        step = step / 4 if step > 0.5 else 0.1
        angles = np.arange(best - 3 * step, best + 3.01 * step, step)


def skew_of(mask: np.ndarray, gain: float = 1.0) -> float:
    """The angle in degrees (counter-clockwise) of the text lines of ``mask``, which run across it; 0 unless
    their profile is ``gain`` times sharper at that angle than at none."""
    ys, xs = _points(mask)
    if len(ys) < 50:
        return 0.0
    angle, sharpness = _sharpest(ys, xs, 0.0)
    if gain > 1.0 and sharpness < gain * _sharpness(ys, xs, np.zeros(1))[0]:
        return 0.0
    return -round(angle, 1)


# --------------------------------------------------------------------------- upright or upside down


def line_bands(mask: np.ndarray, count: int = SAMPLE_LINES) -> list[tuple[int, int, int, int]]:
    """Up to ``count`` pieces of text line of an upright ``mask`` as (x0, y0, x1, y1): its ink closed
    across letter gaps (see :data:`GAP_PER_HEIGHT`), the blobs at least :data:`MIN_ELONGATION` times
    as wide as tall, of about the usual height and made of :data:`MIN_LETTERS` or more pieces of ink
    (not a rule), widest first, each cut to :data:`LINE_WIDTH` heights."""
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    gap = LETTER_GAP
    while True:
        closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((1, gap), np.uint8))
        x, y, w, h = _blob_boxes(closed)
        tall = h[h >= MIN_LINE_HEIGHT]
        wider = round(GAP_PER_HEIGHT * float(np.median(tall))) if len(tall) else 0
        if wider <= 1.5 * gap:
            break
        gap = wider  # large print: close its wider gaps
    blobs = (h >= MIN_LINE_HEIGHT) & (w >= MIN_ELONGATION * h)
    if not blobs.any():
        return []
    typical = float(np.median(h[blobs]))
    chosen = np.flatnonzero(blobs & (h >= 0.7 * typical) & (h <= 1.5 * typical))
    bands = []
    for i in chosen[np.argsort(-w[chosen], kind="stable")]:
        x0, y0, x1, y1 = int(x[i]), int(y[i]), int(x[i] + min(w[i], LINE_WIDTH * h[i])), int(y[i] + h[i])
        if len(np.unique(labels[y0:y1, x0:x1])) - 1 >= MIN_LETTERS:
            bands.append((x0, y0, x1, y1))
            if len(bands) == count:
                break
    return bands


def _blob_boxes(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """x, y, width and height of each blob of ink in ``mask`` (uint8), as int arrays, from the outer
    contour of each (also of blobs inside another's hole: a line in a form's box): 5–8 ms for OpenCV's
    component statistics on a 1024-pixel page, about 1 ms so."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer = [c for c, link in zip(contours, hierarchy[0] if hierarchy is not None else ()) if link[3] < 0]
    boxes = np.array([cv2.boundingRect(c) for c in outer], dtype=np.int64).reshape(-1, 4)
    boxes = boxes[np.lexsort((boxes[:, 0], boxes[:, 1]))]  # top to bottom, as components are numbered
    return tuple(boxes.T)


class Orienter:
    """Finds how pages lie, with a recognizer (loaded once) reading sample lines every way they may run."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer

    def find(self, image: np.ndarray) -> Orientation:
        """How ``image`` (H×W×3 uint8 RGB, or H×W gray) lies."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        step = max(1, max(gray.shape) // (2 * WORK_SIDE))  # a large page is looked at through every step-th pixel
        gray = np.ascontiguousarray(gray[::step, ::step])
        mask = ink(gray)
        scale = max(gray.shape) / max(mask.shape)
        paper = is_paper(gray)
        levels: dict[int, Orientation] = {}  # each way up tried, by rotation
        evidence: dict[int, float] = {}  # what the recognizer read surely that way (nothing: 0)
        for quarters in (0, 3):  # lines across the page, then lines down it (turned back a quarter clockwise)
            turned = np.ascontiguousarray(np.rot90(mask, quarters))
            level = Orientation(90 * quarters, _at_least(skew_of(turned, 1.0 if paper else SKEW_GAIN), MIN_SKEW))
            half = replace(level, rotation=(level.rotation + 180) % 360)
            levels.update({level.rotation: level, half.rotation: half})
            bands = line_bands(_upright_mask(mask, level))
            crops = [self._cut(gray, band, level, mask.shape, scale) for band in bands]
            if not crops:
                continue
            plain, flipped = self.certainty(crops + [c[::-1, ::-1] for c in crops], len(crops))
            evidence.update({level.rotation: plain, half.rotation: flipped})
            if max(plain, flipped) >= SURE:
                break
        best = max(levels, key=lambda rotation: evidence.get(rotation, 0.0))
        if not paper and evidence.get(best, 0.0) - max(evidence.get(0, 0.0), 0.0) < LEGIBLE:
            return _framed(levels[0], mask)  # a photograph is not turned on a guess
        if evidence.get(best, 0.0) < LEGIBLE and mask.any():  # OSD also knows other scripts
            chosen = osd_rotation(gray)
            if chosen in levels:
                best = chosen
        return _framed(levels[best], mask)

    def _cut(self, gray: np.ndarray, band: tuple[int, int, int, int], level: Orientation,
             mask_shape: tuple[int, ...], scale: float) -> np.ndarray:
        """The band (x0, y0, x1, y1) of the upright ink map, cut from the full gray page at model height."""
        x0, y0, x1, y1 = band
        pad = LINE_PAD * (y1 - y0)
        y0, y1 = y0 - pad, y1 + pad
        height = self.recognizer.config.img_height
        step = (y1 - y0) / height
        width = max(height, round((x1 - x0) / step))
        to_band = np.array([[step, 0.0, x0], [0.0, step, y0], [0.0, 0.0, 1.0]])  # crop pixels to upright map
        back = np.linalg.inv(_matrix(level, mask_shape[1], mask_shape[0])[0])  # upright map to input map
        to_input = np.diag([scale, scale, 1.0]) @ back @ to_band
        return cv2.warpAffine(gray, to_input[:2], (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=255)

    def certainty(self, crops: Sequence[np.ndarray], first: int) -> tuple[float, float]:
        """How much text the recognizer reads with confidence in the first ``first`` gray crops at model
        height and in the others: the sum of 2p − 1 over the steps where it reads a character, p being the
        probability of that character (a wrong way up reads fewer characters, less surely)."""
        width = max(c.shape[1] for c in crops)
        probs = softmax(self.recognizer.session.run(batch_tensor(crops, width))[0]
                        / np.float32(self.recognizer.config.temperature))
        top, characters = probs.max(axis=2), probs.argmax(axis=2) != 0
        for row, crop in enumerate(crops):  # only the steps that see the crop, not its padding
            characters[row, math.ceil(probs.shape[1] * crop.shape[1] / width) + 1:] = False
        evidence = np.where(characters, 2 * top - 1, 0.0).sum(axis=1)
        return float(evidence[:first].sum()), float(evidence[first:].sum())



def osd_rotation(gray: np.ndarray) -> int | None:
    """Degrees (0, 90, 180, 270) the gray page is turned clockwise, by Tesseract's OSD, or None when it
    cannot tell or cannot run (logged at debug level)."""
    scale = OSD_SIDE / max(gray.shape)
    if scale < 1.0:
        gray = cv2.resize(gray, (round(gray.shape[1] * scale), round(gray.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)
    try:
        api, lock = _osd_api()
    except EngineError as exc:
        logger.debug("orientation: Tesseract OSD cannot run: %s", exc)
        return None
    gray = np.ascontiguousarray(gray)
    with lock:
        api.SetImageBytes(gray.tobytes(), gray.shape[1], gray.shape[0], 1, gray.shape[1])
        found = api.DetectOrientationScript()
    if not found or found.get("orient_deg") not in ROTATIONS:
        logger.debug("orientation: Tesseract OSD could not tell the orientation (%s)", found)
        return None
    return int(found["orient_deg"])


@lru_cache(maxsize=1)
def _osd_api() -> tuple[Any, threading.Lock]:
    """The process's Tesseract API for orientation and script detection (in process: 1–40 ms a page where
    the ``tesseract`` command took 90–170 ms, with the same answers), and the lock that serializes it."""
    api, _ = open_api("osd", OSD_PSM)
    api.SetVariable("min_characters_to_try", str(OSD_MIN_CHARACTERS))
    return api, threading.Lock()


@lru_cache(maxsize=1)
def find_orienter() -> Orienter:
    """The process's :class:`Orienter`, loaded on first use."""
    return Orienter(Recognizer(MODEL, RuntimeConfig(intra_op_threads=THREADS)))


def _framed(level: Orientation, mask: np.ndarray) -> Orientation:
    """``level`` keeping only the part of its deskewed canvas that holds the ``mask``'s ink, with a margin
    of :data:`FRAME_MARGIN`: undoing a skew grows the canvas by white corners, and a larger canvas is
    read smaller by the detector (its canvas size caps the scale)."""
    if not level.skew:
        return level
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return level
    # the hull of each row's first and last ink pixel is the ink's hull, from two points a row
    first, last = mask[rows].argmax(axis=1), mask.shape[1] - 1 - mask[rows, ::-1].argmax(axis=1)
    ends = np.column_stack([np.concatenate([first, last]), np.concatenate([rows, rows])]).astype(np.int32)
    hull = cv2.convexHull(ends).reshape(-1, 2).astype(np.float64)  # its extremes are the ink's, turned or not
    matrix, width, height = _matrix(level, mask.shape[1], mask.shape[0])
    upright = hull @ matrix[:2, :2].T + matrix[:2, 2]
    margin = FRAME_MARGIN * max(width, height)
    left, top = np.maximum(upright.min(axis=0) - margin, 0.0)
    right, bottom = np.minimum(upright.max(axis=0) + margin, (width, height))
    return replace(level, frame=(left / width, top / height, right / width, bottom / height))


def _at_least(angle: float, smallest: float) -> float:
    """``angle``, or 0 when it is smaller than ``smallest`` either way."""
    return angle if abs(angle) >= smallest else 0.0
