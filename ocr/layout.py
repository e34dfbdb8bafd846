"""Page layout: words → lines → blocks, in reading order, for any engine's word outlines.

Everything happens in a *deskewed frame*: the page is rotated by the dominant text
angle (estimated from the words, then refined on the lines they form), so slightly
skewed scans behave like straight ones. In that frame:

1. **Lines** chain words left to right while they overlap vertically and the gap to
   the previous word stays below ``word_gap`` × the text height (a wider gap — a
   table column, a form field — starts a new line) and is not a column gutter (a gap
   that stays empty over several lines, lined up with other lines' ends and starts).
2. **Blocks** chain lines top to bottom when they overlap horizontally, are close
   vertically and are each other's unique nearest neighbour (so a full-width title
   does not glue two columns together); a chain is then cut where a gap is clearly
   wider than its usual line spacing (paragraphs).
3. **Tables**: two side-by-side blocks whose lines pair up row by row, one of them much
   narrower (a receipt's items and prices, a form's keys and values; two columns of text
   are alike in width) and no column of text between them, become one block whose lines
   are read row by row.
4. **Reading order** of blocks follows a recursive XY-cut: columns (vertical white
   gaps) left to right, and within a column, slabs (horizontal gaps) top to bottom;
   consecutive slabs that share a column gutter are cut into columns together, so
   two-column text is read column by column even where its paragraphs line up. A region
   no gap splits (text flowing around a picture, a caption across a gutter) is ordered
   topologically, as Breuel proposed: above before below, left before right.

Line and block outlines are rectangles in the deskewed frame, rotated back onto the page.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .document import Block, Line, Polygon, Word, share_row


@dataclass(frozen=True)
class LayoutConfig:
    """Tolerances, in units of text height unless stated."""

    word_gap: float = 1.0
    """Largest horizontal gap between two words of one line."""
    line_overlap: float = 0.5
    """Smallest vertical overlap (share of the larger height) for two words to share a line."""
    gutter_run: float = 4.0
    """A gap between two words is a column gutter, never bridged by a line, when no word crosses it
    over at least this height (several lines above or below leave it empty) and other lines end
    where the left-hand word ends and start where the right-hand word starts."""
    line_gap: float = 1.0
    """Largest vertical gap between two lines of one block."""
    paragraph_gap: float = 0.35
    """A gap this much wider than a block's usual line spacing starts a new block."""
    height_ratio: float = 1.8
    """Largest ratio between the text heights of two lines of one block."""
    table_width_ratio: float = 0.7
    """Side-by-side blocks whose lines pair up row by row are one table (read row by row) when
    the narrower is at most this share of the wider's width; columns of text are alike in width."""
    table_rows: float = 0.7
    """Smallest share of the narrower block's lines that must share a row with the other's."""
    max_skew_degrees: float = 20.0
    """Skew estimates beyond this are ignored (the page is treated as straight)."""


@dataclass(frozen=True)
class _Box:
    """An axis-aligned box in the deskewed frame."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def union(self, other: _Box) -> _Box:
        return _Box(min(self.x0, other.x0), min(self.y0, other.y0), max(self.x1, other.x1), max(self.y1, other.y1))


def estimate_skew(polygons: Sequence[Polygon]) -> float:
    """Dominant text angle in degrees (positive: text runs down to the right), 0 when unknown.

    Each elongated outline votes with the direction of its principal axis, weighted by
    its length; the result is the weighted median of the near-horizontal votes.
    """
    return _skew_of(_flat(polygons)) if polygons else 0.0


_Flat = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Outlines as one array: every point (N×2), where each outline's points start in it, how many it has."""


def _skew_of(flat: _Flat) -> float:
    """:func:`estimate_skew` of outlines given as :func:`_flat` gives them."""
    points, starts, counts = flat
    centred = points - np.repeat(np.add.reduceat(points, starts) / counts[:, None], counts, axis=0)
    sxx, syy, sxy = (np.add.reduceat(v, starts) for v in (centred[:, 0] ** 2, centred[:, 1] ** 2,
                                                              centred[:, 0] * centred[:, 1]))
    radius = np.hypot((sxx - syy) / 2, sxy)  # the 2×2 scatter matrices' eigenvalues, in closed form
    major, minor = (sxx + syy) / 2 + radius, (sxx + syy) / 2 - radius
    angles = np.degrees(np.arctan2(2 * sxy, sxx - syy) / 2)  # of the major axis
    votes = (major > 0) & (major >= 2.25 * np.maximum(minor, 1e-9)) & (np.abs(angles) <= 45)  # aspect ≥ 1.5
    if not votes.any():
        return 0.0
    return _weighted_median(angles[votes].tolist(), np.sqrt(major[votes]).tolist())


def _flat(polygons: Sequence[Polygon]) -> _Flat:
    """The points of all ``polygons`` as one float array (N×2), where each polygon's points start in it and
    how many it has (for ``np.ufunc.reduceat``)."""
    counts = np.array([len(p) for p in polygons])
    points = np.array([point for polygon in polygons for point in polygon], dtype=np.float64).reshape(-1, 2)
    return points, np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp), counts


def _line_skew(flat: _Flat, lines: Sequence[Sequence[int]], fallback: float) -> float:
    """Weighted median angle of the straight lines through the word centres (of the outlines ``flat``) of each
    line of 3+ words."""
    angles, weights = [], []
    points, starts, counts = flat
    every = np.add.reduceat(points, starts) / counts[:, None]
    for members in lines:
        if len(members) < 3:
            continue
        centres = every[members]
        span = float(np.ptp(centres[:, 0]))
        if span <= 0:
            continue
        slope = np.polyfit(centres[:, 0], centres[:, 1], 1)[0]
        angles.append(math.degrees(math.atan(slope)))
        weights.append(span)
    return _weighted_median(angles, weights) if angles else fallback


def _weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64)[order])
    return float(np.asarray(values)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _limited(skew: float, config: LayoutConfig) -> float:
    return skew if abs(skew) <= config.max_skew_degrees else 0.0


class _Frame:
    """Rotation between page coordinates and the deskewed frame."""

    def __init__(self, degrees: float) -> None:
        radians = math.radians(degrees)
        self.cos, self.sin = math.cos(radians), math.sin(radians)

    def boxes(self, flat: _Flat) -> list[_Box]:
        """The box in the frame of each outline of ``flat``."""
        points, starts, _ = flat
        x = points[:, 0] * self.cos + points[:, 1] * self.sin
        y = -points[:, 0] * self.sin + points[:, 1] * self.cos
        corners = zip(*(ufunc.reduceat(v, starts).tolist() for ufunc, v in
                        ((np.minimum, x), (np.minimum, y), (np.maximum, x), (np.maximum, y))))
        return [_Box(*corner) for corner in corners]

    @property
    def straight(self) -> bool:
        """Whether the frame is the page's own (no rotation)."""
        return self.sin == 0.0

    def polygon(self, box: _Box) -> Polygon:
        corners = ((box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1))
        return tuple((x * self.cos - y * self.sin, x * self.sin + y * self.cos) for x, y in corners)


def _gutter(words: np.ndarray, left: np.ndarray, right: np.ndarray, config: LayoutConfig) -> bool:
    """Whether the gap between the word boxes ``left`` and ``right`` (rows of ``words``: x0, y0,
    x1, y1) is part of a column gutter: wider than a word space, empty over ``gutter_run`` text
    heights, with three or more other lines ending where ``left`` ends and starting where ``right``
    starts (justified columns; a form's ragged keys do not line up)."""
    top, bottom = min(left[1], right[1]), max(left[3], right[3])
    height, gap = bottom - top, right[0] - left[2]
    if gap < 0.4 * height:
        return False
    margin = min(0.25 * gap, 0.15 * height)  # justified lines end a few pixels apart
    start, end = left[2] + margin, right[0] - margin
    x0, y0, x1, y1 = words.T
    crossing = (x0 < end) & (x1 > start)
    ceiling = y1[crossing & (y1 <= top)].max(initial=-math.inf)
    floor = y0[crossing & (y0 >= bottom)].min(initial=math.inf)
    if floor - ceiling < config.gutter_run * height:
        return False
    centre = (y0 + y1) / 2
    other_rows = (centre > ceiling) & (centre < floor) & ((centre < top) | (centre > bottom))
    near = 0.3 * height
    starts = int((other_rows & (np.abs(x0 - right[0]) <= near)).sum())
    ends = int((other_rows & (np.abs(x1 - left[2]) <= near)).sum())
    return starts >= 3 and ends >= 3


def _group_lines(boxes: Sequence[_Box], config: LayoutConfig) -> list[list[int]]:
    """Indices of words chained into lines, each left to right; no line crosses a column gutter."""
    lines: list[list[int]] = []
    every = _array(boxes)
    ends = np.empty((len(boxes), 4))  # x0, y0, x1, y1 of the last word of each line
    for index in sorted(range(len(boxes)), key=lambda i: (boxes[i].x0, boxes[i].y0)):
        word = boxes[index]
        x0, y0, x1, y1 = ends[: len(lines)].T
        overlap = np.minimum(y1, word.y1) - np.maximum(y0, word.y0)
        height = np.maximum(y1 - y0, word.height)
        score = overlap / np.maximum(height, 1e-6)  # of the taller: a blob spanning two rows joins neither
        fits = (score >= config.line_overlap) & (word.x0 >= x0) & (word.x0 - x1 <= config.word_gap * height)
        for candidate in np.flatnonzero(fits):
            fits[candidate] = not _gutter(every, ends[candidate], every[index], config)
        if fits.any():
            best = int(np.argmax(np.where(fits, score, -1.0)))
            lines[best].append(index)
        else:
            best = len(lines)
            lines.append([index])
        ends[best] = (word.x0, word.y0, word.x1, word.y1)
    return lines


def _group_blocks(lines: Sequence[_Box], config: LayoutConfig) -> list[list[int]]:
    """Indices of lines chained into blocks, each top to bottom."""
    x0, y0, x1, y1 = _array(lines).T
    height = y1 - y0

    def below(i: int) -> list[int]:
        """The nearest row of lines under ``i`` that overlap it horizontally."""
        under = (y0 >= y0[i] + 0.5 * height[i]) & (np.minimum(x1[i], x1) > np.maximum(x0[i], x0))
        under[i] = False
        candidates = np.flatnonzero(under)
        if not len(candidates):
            return []
        row_end = y0[candidates].min() + 0.5 * height[candidates].min()
        return candidates[y0[candidates] <= row_end].tolist()

    below_of = [below(i) for i in range(len(lines))]
    above_of: list[list[int]] = [[] for _ in lines]
    for i, candidates in enumerate(below_of):
        for j in candidates:
            above_of[j].append(i)
    next_of: dict[int, int] = {}
    for i, candidates in enumerate(below_of):
        if len(candidates) != 1:
            continue
        j = candidates[0]
        a, b = lines[i], lines[j]
        small, large = sorted((a.height, b.height))
        if b.y0 - a.y1 > config.line_gap * large or large > config.height_ratio * max(small, 1e-6):
            continue
        if above_of[j] == [i]:
            next_of[i] = j
    starts = sorted(set(range(len(lines))) - set(next_of.values()), key=lambda i: (lines[i].y0, lines[i].x0))
    blocks = []
    for start in starts:
        chain = [start]
        while chain[-1] in next_of:
            chain.append(next_of[chain[-1]])
        blocks.extend(_paragraphs(chain, lines, config))
    return blocks


def _same_row(a: _Box, b: _Box) -> bool:
    return share_row((a.x0, a.y0, a.x1, a.y1), (b.x0, b.y0, b.x1, b.y1))


def _join_tables(blocks: list[list[int]], lines: Sequence[_Box], config: LayoutConfig) -> list[list[int]]:
    """Merge side-by-side blocks whose lines pair up row by row (a receipt's items and prices,
    a form's keys and values) into one block whose lines are read row by row."""
    blocks = [list(b) for b in blocks]
    line_array = _array(lines)

    def table(a: int, b: int, boxes: np.ndarray) -> bool:
        """Whether block ``b``, right of block ``a`` on the same rows (and one of them much narrower), makes a
        table with it: no column of text stands between them over most of the rows they share, and most of the
        narrower one's lines share a row with a line of the other."""
        left_x1, right_x0 = boxes[a, 2], boxes[b, 0]
        top, bottom = max(boxes[a, 1], boxes[b, 1]), min(boxes[a, 3], boxes[b, 3])
        others = np.delete(boxes, [a, b], axis=0)
        shared = np.minimum(bottom, others[:, 3]) - np.maximum(top, others[:, 1])
        if ((others[:, 0] < right_x0) & (others[:, 2] > left_x1) & (shared >= 0.5 * (bottom - top))).any():
            return False
        narrow, wide = (a, b) if boxes[a, 2] - boxes[a, 0] <= boxes[b, 2] - boxes[b, 0] else (b, a)
        same_row = share_row(line_array[blocks[narrow]].T[:, :, None], line_array[blocks[wide]].T[:, None, :])
        paired = int(same_row.any(axis=1).sum())
        return paired >= 2 and paired >= config.table_rows * len(blocks[narrow])

    def next_table() -> tuple[int, int] | None:
        boxes = _array([_union(lines[j] for j in block) for block in blocks])
        x0, y0, x1, y1 = boxes.T
        width = x1 - x0
        side_by_side = (x0[None, :] >= x1[:, None]) & (np.minimum.outer(y1, y1) > np.maximum.outer(y0, y0))
        narrow_enough = np.minimum.outer(width, width) <= config.table_width_ratio * np.maximum.outer(width, width)
        pairs = np.argwhere(side_by_side & narrow_enough)  # row by row: the order pairs were tried in
        return next(((int(a), int(b)) for a, b in pairs if a != b and table(a, b, boxes)), None)

    while (pair := next_table()) is not None:
        a, b = pair
        blocks[a] = _row_order(blocks[a] + blocks[b], lines)
        del blocks[b]
    return blocks


def _row_order(members: list[int], lines: Sequence[_Box]) -> list[int]:
    """Lines top to bottom by rows (lines sharing a row left to right)."""
    rows: list[list[int]] = []
    for i in sorted(members, key=lambda i: (lines[i].y0 + lines[i].y1) / 2):
        if rows and _same_row(lines[rows[-1][0]], lines[i]):
            rows[-1].append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda i: lines[i].x0)]


def _paragraphs(chain: list[int], lines: Sequence[_Box], config: LayoutConfig) -> list[list[int]]:
    """Split a chain of lines where the gap clearly exceeds its usual line spacing."""
    if len(chain) < 3:
        return [chain]
    gaps = [
        (lines[b].y0 - lines[a].y1) / max(lines[a].height, lines[b].height, 1e-6) for a, b in zip(chain, chain[1:])
    ]
    usual = float(np.percentile(gaps, 25))
    parts = [[chain[0]]]
    for line, gap in zip(chain[1:], gaps):
        if gap > usual + config.paragraph_gap:
            parts.append([line])
        else:
            parts[-1].append(line)
    return parts


def _gaps(intervals: Sequence[tuple[float, float]]) -> list[float]:
    """Cut positions in the empty stretches between projected intervals (sorted)."""
    cuts, reach = [], -math.inf
    for start, end in sorted(intervals):
        if start > reach and reach != -math.inf:
            cuts.append((start + reach) / 2)
        reach = max(reach, end)
    return cuts


def _split(items: list[int], position: dict[int, float], cuts: list[float]) -> list[list[int]]:
    parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in items:
        parts[int(np.searchsorted(cuts, position[i]))].append(i)
    return [p for p in parts if p]


def _reading_order(boxes: Sequence[_Box], items: list[int]) -> list[int]:
    """Recursive XY-cut over block boxes: columns left to right, slabs top to bottom."""
    if len(items) <= 1:
        return list(items)
    column_cuts = _gaps([(boxes[i].x0, boxes[i].x1) for i in items])
    if column_cuts:
        centre_x = {i: (boxes[i].x0 + boxes[i].x1) / 2 for i in items}
        return [i for part in _split(items, centre_x, column_cuts) for i in _reading_order(boxes, part)]
    slab_cuts = _gaps([(boxes[i].y0, boxes[i].y1) for i in items])
    if not slab_cuts:
        return _topological_order(boxes, items)
    centre_y = {i: (boxes[i].y0 + boxes[i].y1) / 2 for i in items}
    groups: list[list[int]] = []
    for slab in _split(items, centre_y, slab_cuts):
        if groups and all(_gaps([(boxes[i].x0, boxes[i].x1) for i in part]) for part in (groups[-1], slab, groups[-1] + slab)):
            groups[-1] += slab
        else:
            groups.append(slab)
    return [i for group in groups for i in _reading_order(boxes, group)]


def _topological_order(boxes: Sequence[_Box], items: list[int]) -> list[int]:
    """Breuel's reading order, for regions XY-cut cannot split: ``a`` precedes ``b`` when they
    overlap horizontally and ``a`` is higher, or when ``a`` is wholly left of ``b`` and no block
    lying vertically between them spans both. Ties (and cycles) go to the topmost block."""
    x0, y0, x1, y1 = _array([boxes[i] for i in items]).T
    centre = (y0 + y1) / 2
    overlap = np.minimum.outer(x1, x1) > np.maximum.outer(x0, x0)
    before = overlap & (centre[:, None] < centre[None, :])
    for a in range(len(items)):
        right = np.flatnonzero(~overlap[a] & (x1[a] <= x0))
        low, high = np.minimum(centre[a], centre[right]), np.maximum(centre[a], centre[right])
        spans = (x0 < x1[a])[None, :] & (x1[None, :] > x0[right, None])
        between = (centre[None, :] > low[:, None]) & (centre[None, :] < high[:, None])
        before[a, right] = ~(spans & between).any(axis=1)
    waiting = before.sum(axis=0)
    placed = np.zeros(len(items), dtype=bool)
    order = []
    for _ in items:
        ready = np.flatnonzero(~placed & (waiting == 0))
        if not len(ready):
            ready = np.flatnonzero(~placed)
        first = min(ready, key=lambda k: (y0[k], x0[k]))
        order.append(items[first])
        placed[first] = True
        waiting -= before[first]
    return order


@dataclass(frozen=True)
class TextLine:
    """One line of word outlines, left to right, in the page's deskewed frame.

    ``members`` index the polygons given to :func:`text_lines`; ``box`` and ``word_boxes``
    (the members' boxes, in the same order) are in the deskewed frame.
    """

    members: tuple[int, ...]
    box: _Box
    word_boxes: tuple[_Box, ...]
    frame: _Frame

    @classmethod
    def whole(cls, width: int, height: int) -> TextLine:
        """A line filling a ``width`` × ``height`` image, with no word outlines."""
        return cls((), _Box(0.0, 0.0, float(width), float(height)), (), _Frame(0.0))

    @property
    def straight(self) -> bool:
        """Whether the line runs along the page's axes."""
        return self.frame.straight

    def polygon(self, x0: float, y0: float, x1: float, y1: float) -> Polygon:
        """The page polygon of the frame rectangle (x0, y0)–(x1, y1)."""
        return self.frame.polygon(_Box(x0, y0, x1, y1))


def _frame_and_lines(polygons: Sequence[Polygon], config: LayoutConfig) -> tuple[_Frame, list[_Box], list[list[int]]]:
    """The deskewed frame, the word boxes in it and the words chained into lines."""
    flat = _flat(polygons)
    skew = _limited(_skew_of(flat), config)
    frame = _Frame(skew)
    word_boxes = frame.boxes(flat)
    line_members = _group_lines(word_boxes, config)
    # Short words give coarse angles; the lines they form give precise ones.
    refined = _limited(_line_skew(flat, line_members, skew), config)
    if abs(refined - skew) > 0.05:
        frame = _Frame(refined)
        word_boxes = frame.boxes(flat)
        line_members = _group_lines(word_boxes, config)
    return frame, word_boxes, line_members


def text_lines(polygons: Sequence[Polygon], config: LayoutConfig = LayoutConfig()) -> list[TextLine]:
    """Word outlines chained into lines (no reading order between the lines)."""
    if not polygons:
        return []
    frame, word_boxes, line_members = _frame_and_lines(polygons, config)
    return [
        TextLine(tuple(members), _union(word_boxes[i] for i in members), tuple(word_boxes[i] for i in members), frame)
        for members in line_members
    ]


def build_blocks(words: Sequence[Word], config: LayoutConfig = LayoutConfig()) -> tuple[Block, ...]:
    """Group ``words`` into lines and blocks, all in reading order."""
    if not words:
        return ()
    frame, word_boxes, line_members = _frame_and_lines([w.polygon for w in words], config)
    line_boxes = [_union(word_boxes[i] for i in members) for members in line_members]
    block_members = _join_tables(_group_blocks(line_boxes, config), line_boxes, config)
    block_boxes = [_union(line_boxes[j] for j in members) for members in block_members]
    blocks = []
    for b in _reading_order(block_boxes, list(range(len(block_members)))):
        lines = tuple(
            Line(tuple(words[i] for i in line_members[j]), frame.polygon(line_boxes[j])) for j in block_members[b]
        )
        blocks.append(Block(lines, frame.polygon(block_boxes[b])))
    return tuple(blocks)


def _array(boxes: Sequence[_Box]) -> np.ndarray:
    """The boxes as rows (x0, y0, x1, y1) of a float array."""
    return np.array([(b.x0, b.y0, b.x1, b.y1) for b in boxes], dtype=np.float64).reshape(-1, 4)


def _union(boxes: Iterable[_Box]) -> _Box:
    return functools.reduce(_Box.union, boxes)
