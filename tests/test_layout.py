"""Layout on synthetic pages with known lines, blocks and reading order."""

from __future__ import annotations

import math
import random

import pytest

from ocr.document import Word, box_polygon
from ocr.layout import LayoutConfig, build_blocks, estimate_skew

HEIGHT = 20.0
PITCH = 24.0  # tight: 4 px between lines


def paragraph(
    tag: str, x0: float, x1: float, top: float, lines: int, rng: random.Random, last_short: bool = True
) -> list[list[Word]]:
    """Words filling ``lines`` lines between x0 and x1 (the last one shorter), text ``tag.line.word``."""
    result = []
    for n in range(lines):
        y = top + n * PITCH
        right = x0 + 0.5 * (x1 - x0) if last_short and n == lines - 1 else x1
        x, row, k = x0, [], 0
        while True:
            width = rng.uniform(25, 70)
            if x + width > right:
                break
            row.append(Word(f"{tag}.{n}.{k}", box_polygon(x, y, x + width, y + HEIGHT), 0.9, "test"))
            x += width + rng.uniform(5, 10)
            k += 1
        result.append(row)
    return result


def two_column_page(rng: random.Random) -> list[list[list[Word]]]:
    """Title across both columns, then two paragraphs per column with aligned paragraph gaps."""
    title = paragraph("T", 200, 700, 100 - PITCH - 4, 1, rng, last_short=False)  # just above both columns
    left = 60.0, 440.0
    right = 500.0, 880.0  # gutter 60 px = 3 text heights
    return [
        title,
        paragraph("L1", *left, 100, 5, rng),
        paragraph("L2", *left, 100 + 6 * PITCH, 4, rng),
        paragraph("R1", *right, 100, 5, rng),
        paragraph("R2", *right, 100 + 6 * PITCH, 4, rng),
    ]


def rotate(word: Word, degrees: float, centre: tuple[float, float] = (470.0, 300.0)) -> Word:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    cx, cy = centre
    polygon = tuple((cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in word.polygon)
    return Word(word.text, polygon, word.confidence, word.source)


def flat(blocks: list[list[list[Word]]]) -> list[Word]:
    return [w for block in blocks for line in block for w in line]


def as_texts(blocks) -> list[list[str]]:
    return [[line.text for line in block.lines] for block in blocks]


def expected_texts(blocks: list[list[list[Word]]]) -> list[list[str]]:
    return [[" ".join(w.text for w in line) for line in block] for block in blocks]


@pytest.mark.parametrize("skew", [0.0, 3.0, -4.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_columns_read_column_by_column(skew: float, seed: int) -> None:
    rng = random.Random(seed)
    page = two_column_page(rng)
    words = [rotate(w, skew) for w in flat(page)]
    rng.shuffle(words)
    assert as_texts(build_blocks(words)) == expected_texts(page)


def justified(tag: str, x0: float, x1: float, top: float, lines: int, rng: random.Random) -> list[list[Word]]:
    """Like :func:`paragraph`, every line (the last too) stretched to end exactly at ``x1``."""
    result = []
    for row in paragraph(tag, x0, x1, top, lines, rng, last_short=False):
        stretch = (x1 - x0) / (max(w.polygon[1][0] for w in row) - x0)
        result.append([Word(w.text, tuple((x0 + (x - x0) * stretch, y) for x, y in w.polygon), w.confidence, w.source)
                       for w in row])
    return result


@pytest.mark.parametrize("seed", [0, 1])
def test_narrow_gutters_of_justified_columns_are_never_bridged(seed: int) -> None:
    rng = random.Random(seed)
    gutter = 0.6 * HEIGHT  # narrower than the widest word space a line may hold (word_gap)
    width = 260.0
    page = [justified(f"C{n}", 60 + n * (width + gutter), 60 + n * (width + gutter) + width, 100, 8, rng)
            for n in range(3)]
    words = flat(page)
    rng.shuffle(words)
    assert as_texts(build_blocks(words)) == expected_texts(page)


def test_blocks_with_a_column_between_them_are_not_one_table() -> None:
    rng = random.Random(4)
    left = paragraph("A", 60, 180, 100, 4, rng, last_short=False)  # narrow: could pair row by row with C
    middle = paragraph("B", 240, 440, 100 + PITCH / 2, 4, rng, last_short=False)  # rows half a line lower
    right = paragraph("C", 500, 700, 100, 4, rng, last_short=False)
    words = flat([left, middle, right])
    rng.shuffle(words)
    assert as_texts(build_blocks(words)) == expected_texts([left, middle, right])


def test_text_flowing_around_a_caption_across_the_gutter_is_read_column_by_column() -> None:
    rng = random.Random(6)
    row = lambda n: 100 + n * PITCH  # noqa: E731
    columns = [
        paragraph("LA", 60, 440, row(0), 4, rng),
        paragraph("LB", 60, 370, row(5), 5, rng),  # narrowed around the caption
        paragraph("RA", 500, 880, row(0), 6, rng),  # paragraph gaps unaligned with the left column's
        paragraph("RB", 570, 880, row(7), 3, rng),
    ]
    caption = paragraph("CAP", 410, 540, row(8), 1, rng, last_short=False)  # astride the gutter (440-500)
    words = flat(columns + [caption])
    rng.shuffle(words)
    blocks = as_texts(build_blocks(words))
    assert sorted(blocks) == sorted(expected_texts(columns + [caption]))
    positions = [blocks.index(block) for block in expected_texts(columns)]
    assert positions == sorted(positions)


@pytest.mark.parametrize("skew", [0.0, 2.5, -3.0, 6.0])
def test_skew_is_estimated(skew: float) -> None:
    words = [rotate(w, skew) for w in flat(two_column_page(random.Random(5)))]
    assert estimate_skew([w.polygon for w in words]) == pytest.approx(skew, abs=0.3)


def test_wide_gaps_split_lines_like_table_cells_read_row_by_row() -> None:
    rng = random.Random(3)
    words = []
    for n, (item, price) in enumerate([("BREAD", "2.50"), ("MILK", "1.10"), ("EGGS", "3.20")]):
        y = 100 + n * PITCH
        words.append(Word(item, box_polygon(50, y, 50 + 15 * len(item), y + HEIGHT), 0.9, "t"))
        words.append(Word(price, box_polygon(300, y, 350, y + HEIGHT), 0.9, "t"))
    rng.shuffle(words)
    blocks = build_blocks(words)
    assert as_texts(blocks) == [["BREAD", "2.50", "MILK", "1.10", "EGGS", "3.20"]]  # one table, its cells by rows
    joined = build_blocks(words, LayoutConfig(word_gap=10.0))
    assert as_texts(joined) == [["BREAD 2.50", "MILK 1.10", "EGGS 3.20"]]


def test_lines_and_blocks_outline_their_words() -> None:
    page = two_column_page(random.Random(7))
    words = [rotate(w, 3.0) for w in flat(page)]
    for block in build_blocks(words):
        for line in block.lines:
            xs = [x for w in line.words for x, _ in w.polygon]
            ys = [y for w in line.words for _, y in w.polygon]
            lx = [x for x, _ in line.polygon]
            ly = [y for _, y in line.polygon]
            assert min(lx) <= min(xs) + 1e-6 and max(lx) >= max(xs) - 1e-6
            assert min(ly) <= min(ys) + 1e-6 and max(ly) >= max(ys) - 1e-6
        assert len(block.polygon) == 4


def test_empty_and_single_word() -> None:
    assert build_blocks([]) == ()
    (block,) = build_blocks([Word("hi", box_polygon(0, 0, 30, 20), 1.0, "t")])
    assert block.text == "hi"


def test_paragraph_gap_splits_blocks_even_below_the_line_gap() -> None:
    rng = random.Random(11)
    first = paragraph("P1", 60, 500, 100, 4, rng)
    second = paragraph("P2", 60, 500, 100 + 4 * PITCH + 12, 3, rng)  # 16 px of white vs 4 px between lines
    words = flat([first, second])
    rng.shuffle(words)
    assert as_texts(build_blocks(words)) == expected_texts([first, second])


def test_skew_from_lines_when_word_boxes_are_axis_aligned() -> None:
    """Upright word boxes along 3° baselines (as from an engine without rotated boxes)."""
    rng = random.Random(4)
    page = [paragraph("A", 60, 700, 100, 8, rng)]
    slope = math.tan(math.radians(3.0))

    def shifted(word: Word) -> Word:
        x0, y0 = word.polygon[0]
        x1, y1 = word.polygon[2]
        dy = (x0 + x1) / 2 * slope
        return Word(word.text, box_polygon(x0, y0 + dy, x1, y1 + dy), word.confidence, word.source)

    page = [[[shifted(w) for w in line] for line in block] for block in page]
    words = flat(page)
    assert estimate_skew([w.polygon for w in words]) == 0.0
    assert as_texts(build_blocks(words)) == expected_texts(page)
