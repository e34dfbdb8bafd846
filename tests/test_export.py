"""Exporters: text, hOCR, ALTO and TSV checked by parsing what they write; drawing."""

from __future__ import annotations

import numpy as np
import pytest
from lxml import etree
from rich_document import rich_document

from ocr.document import Block, Document, Line, Page, Word, box_polygon
from ocr.export import FORMATS, draw_words, render
from ocr.export.draw import confidence_color

XHTML = "{http://www.w3.org/1999/xhtml}"
ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"


def test_formats_and_unknown_format() -> None:
    assert FORMATS == ("text", "json", "hocr", "alto", "tsv", "pdf")
    with pytest.raises(ValueError, match="unknown output format 'docx'"):
        render(rich_document(), "docx")
    with pytest.raises(ValueError, match="pdf format needs the input"):
        render(rich_document(), "pdf")


def test_text_has_blank_lines_between_blocks_and_form_feeds_between_pages() -> None:
    text = render(rich_document(), "text")
    page_one, page_two, blank = text.split("\f")
    assert page_one == "Hello, wörld tilted\n<a & \"b\"> it's\n\nedge\n"
    assert page_two == "中文 x\ty\n"
    assert blank == ""


# --- hOCR -------------------------------------------------------------------------------


def _properties(title: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in title.split(";"))


@pytest.fixture(scope="module")
def hocr() -> etree._Element:
    text = render(rich_document(), "hocr")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html')
    return etree.fromstring(text.encode("utf-8"))


def _by_class(root: etree._Element, cls: str) -> list[etree._Element]:
    return root.xpath(f"//*[@class='{cls}']")


def test_hocr_head(hocr: etree._Element) -> None:
    assert hocr.tag == f"{XHTML}html"
    meta = {m.get("name"): m.get("content") for m in hocr.iter(f"{XHTML}meta") if m.get("name")}
    assert meta["ocr-system"].startswith("ocr ")
    assert set(meta["ocr-capabilities"].split()) >= {"ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word"}
    assert meta["ocr-number-of-pages"] == "3"


def test_hocr_pages(hocr: etree._Element) -> None:
    document = rich_document()
    pages = _by_class(hocr, "ocr_page")
    assert len(pages) == len(document.pages)
    for element, page in zip(pages, document.pages):
        props = _properties(element.get("title"))
        assert props["image"] == r'"scans/in put \"1\".pdf"'
        assert props["bbox"] == f"0 0 {page.width} {page.height}"
        assert props["ppageno"] == str(page.index)


def test_hocr_nesting_and_counts(hocr: etree._Element) -> None:
    document = rich_document()
    assert len(_by_class(hocr, "ocr_carea")) == sum(len(p.blocks) for p in document.pages)
    assert len(_by_class(hocr, "ocr_line")) == sum(len(list(p.lines)) for p in document.pages)
    for area in _by_class(hocr, "ocr_carea"):
        assert area.getparent().get("class") == "ocr_page"
        assert [child.get("class") for child in area] == ["ocr_par"]
    for line in _by_class(hocr, "ocr_line"):
        assert line.getparent().get("class") == "ocr_par"
    ids = [element.get("id") for element in hocr.xpath("//*[@id]")]
    assert len(ids) == len(set(ids))


def test_hocr_words(hocr: etree._Element) -> None:
    document = rich_document()
    words = [word for page in document.pages for word in page.words]
    elements = _by_class(hocr, "ocrx_word")
    assert [e.text for e in elements] == [w.text for w in words]  # escaping survives the round trip
    for element, word in zip(elements, words):
        assert element.getparent().get("class") == "ocr_line"
        props = _properties(element.get("title"))
        assert set(props) == {"bbox", "x_wconf"}
        x0, y0, x1, y1 = map(int, props["bbox"].split())
        assert 0 <= x0 <= x1 and 0 <= y0 <= y1
        assert int(props["x_wconf"]) == round(word.confidence * 100)
        assert element.get("data-source") == word.source
    edge = next(e for e in elements if e.text == "edge")
    assert _properties(edge.get("title"))["bbox"] == "0 190 60 200"  # clamped to the 400x200 page


def test_hocr_bboxes_of_lines_and_blocks(hocr: etree._Element) -> None:
    first_line = _by_class(hocr, "ocr_line")[0]
    # the line's polygon spans its words, including the tilted one reaching x=362, y=35..60.75
    assert _properties(first_line.get("title"))["bbox"] == "20 35 362 61"


# --- ALTO --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alto() -> etree._Element:
    return etree.fromstring(render(rich_document(), "alto").encode("utf-8"))


def _numbers(element: etree._Element, *names: str) -> list[int]:
    return [int(element.get(name)) for name in names]


def test_alto_description(alto: etree._Element) -> None:
    assert alto.tag == f"{ALTO}alto"
    assert [child.tag for child in alto] == [f"{ALTO}Description", f"{ALTO}Layout"]
    assert alto.findtext(f"{ALTO}Description/{ALTO}MeasurementUnit") == "pixel"
    source = alto.findtext(f"{ALTO}Description/{ALTO}sourceImageInformation/{ALTO}fileName")
    assert source == rich_document().source
    processing = alto.find(f"{ALTO}Description/{ALTO}OCRProcessing")
    assert processing.get("ID")
    software = processing.find(f"{ALTO}ocrProcessingStep/{ALTO}processingSoftware")
    assert software.findtext(f"{ALTO}softwareName") == "ocr"
    assert software.findtext(f"{ALTO}softwareVersion")


def test_alto_layout(alto: etree._Element) -> None:
    document = rich_document()
    pages = alto.findall(f"{ALTO}Layout/{ALTO}Page")
    assert len(pages) == len(document.pages)
    for element, page in zip(pages, document.pages):
        assert element.get("ID")
        assert _numbers(element, "PHYSICAL_IMG_NR", "WIDTH", "HEIGHT") == [page.index + 1, page.width, page.height]
        space = element.find(f"{ALTO}PrintSpace")
        assert _numbers(space, "HPOS", "VPOS", "WIDTH", "HEIGHT") == [0, 0, page.width, page.height]
        blocks = space.findall(f"{ALTO}TextBlock")
        assert len(blocks) == len(page.blocks)
        for block in blocks:
            for line in block.findall(f"{ALTO}TextLine"):
                _check_line(line, page)
    ids = alto.xpath("//@ID")
    assert len(ids) == len(set(ids))


def _check_line(line: etree._Element, page: Page) -> None:
    children = list(line)
    assert children, "a TextLine needs a String"
    assert [c.tag for c in children[0::2]] == [f"{ALTO}String"] * len(children[0::2])  # String, SP, String, …
    assert [c.tag for c in children[1::2]] == [f"{ALTO}SP"] * len(children[1::2])
    for element in (line, *children[0::2]):
        hpos, vpos, width, height = _numbers(element, "HPOS", "VPOS", "WIDTH", "HEIGHT")
        assert 0 <= hpos and 0 <= vpos and width >= 0 and height >= 0
        assert hpos + width <= page.width and vpos + height <= page.height
    for string in children[0::2]:
        assert string.get("ID") and string.get("CONTENT") is not None
        assert 0.0 <= float(string.get("WC")) <= 1.0
    for space, (before, after) in zip(children[1::2], zip(children[0::2], children[2::2])):
        assert int(space.get("HPOS")) == int(before.get("HPOS")) + int(before.get("WIDTH"))
        assert int(space.get("HPOS")) + int(space.get("WIDTH")) <= int(after.get("HPOS"))


def test_alto_strings_match_words(alto: etree._Element) -> None:
    document = rich_document()
    strings = alto.iter(f"{ALTO}String")
    assert [(s.get("CONTENT"), float(s.get("WC"))) for s in strings] == [
        (w.text, round(w.confidence, 4)) for page in document.pages for w in page.words
    ]


def test_xml_outputs_drop_characters_xml_cannot_hold() -> None:
    word = Word("bad\x0cchar\x00", box_polygon(0, 0, 10, 10), 0.5, "neural")
    document = Document("x\x01.png", (Page(0, 20, 20, (Block.of([Line.of([word])]),)),))
    hocr = etree.fromstring(render(document, "hocr").encode())
    alto = etree.fromstring(render(document, "alto").encode())
    assert _by_class(hocr, "ocrx_word")[0].text == "badchar"
    assert next(alto.iter(f"{ALTO}String")).get("CONTENT") == "badchar"


def test_alto_skips_lines_without_words() -> None:
    empty = Line((), box_polygon(0, 0, 5, 5))
    document = Document("x.png", (Page(0, 20, 20, (Block((empty,), box_polygon(0, 0, 5, 5)),)),))
    alto = etree.fromstring(render(document, "alto").encode())
    assert alto.find(f".//{ALTO}TextBlock") is not None
    assert alto.find(f".//{ALTO}TextLine") is None


# --- TSV ---------------------------------------------------------------------------------


def test_tsv() -> None:
    document = rich_document()
    lines = render(document, "tsv").splitlines()
    header, rows = lines[0], [line.split("\t") for line in lines[1:]]
    assert header == "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    assert all(len(row) == 12 for row in rows)
    levels = [int(row[0]) for row in rows]
    assert levels.count(1) == len(document.pages)
    assert levels.count(2) == levels.count(3) == sum(len(p.blocks) for p in document.pages)
    assert levels.count(4) == sum(len(list(p.lines)) for p in document.pages)
    words = [w for p in document.pages for w in p.words]
    assert levels.count(5) == len(words)
    for row in rows:
        level, numbers, box, conf, text = int(row[0]), list(map(int, row[1:6])), list(map(int, row[6:10])), row[10], row[11]
        assert all(n >= 1 for n in numbers[:level])  # numbered down to its own level
        assert numbers[level:] == [0] * (5 - level)  # and zero below it
        assert min(box) >= 0
        if level == 5:
            assert 0.0 <= float(conf) <= 100.0 and text
        else:
            assert conf == "-1" and text == ""
    word_rows = [row for row in rows if row[0] == "5"]
    assert [row[11] for row in word_rows] == [" ".join(w.text.split()) for w in words]
    assert [float(row[10]) for row in word_rows] == pytest.approx([w.confidence * 100 for w in words])
    assert rows[0] == ["1", "1", "0", "0", "0", "0", "0", "0", "400", "200", "-1", ""]
    assert rows[4][:10] == ["5", "1", "1", "1", "1", "1", "20", "40", "60", "20"]  # "Hello," at (20, 40), 60x20


# --- drawing -----------------------------------------------------------------------------


def test_draw_words_colors_by_confidence() -> None:
    image = np.full((100, 200, 3), 255, np.uint8)
    sure = Word("sure", box_polygon(10, 10, 60, 40), 1.0, "neural")
    unsure = Word("unsure", box_polygon(100, 50, 190, 90), 0.0, "neural")
    page = Page(0, 200, 100, (Block.of([Line.of([sure]), Line.of([unsure])]),))
    drawn = draw_words(image, page)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert (image == 255).all(), "the input must not be modified"
    assert tuple(drawn[10, 30]) == (0, 255, 0)  # top edge of the sure word
    assert tuple(drawn[70, 100]) == (255, 0, 0)  # left edge of the unsure word
    assert tuple(drawn[25, 35]) == (255, 255, 255)  # inside stays untouched
    with pytest.raises(ValueError, match="H×W×3"):
        draw_words(image[:, :, 0], page)


def test_draw_words_of_rich_page() -> None:
    page = rich_document().pages[0]
    drawn = draw_words(np.full((page.height, page.width, 3), 255, np.uint8), page)
    colors = {tuple(c) for c in drawn.reshape(-1, 3)} - {(255, 255, 255)}
    assert colors == {confidence_color(word.confidence) for word in page.words}
