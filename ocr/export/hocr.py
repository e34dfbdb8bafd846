"""hOCR 1.2: an XHTML document with ocr_page / ocr_carea / ocr_par / ocr_line / ocrx_word elements."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import count

from .. import __version__
from ..document import POINTS_PER_INCH, Document, Page, Polygon
from .common import pixel_box, percent, xml_text

_PROLOG = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
)
CAPABILITIES = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"


def render(document: Document) -> str:
    """``document`` as one hOCR file (every page an ``ocr_page``)."""
    html = ET.Element("html", {"xmlns": "http://www.w3.org/1999/xhtml"})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = xml_text(document.source)
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": f"ocr {__version__}"})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": CAPABILITIES})
    ET.SubElement(head, "meta", {"name": "ocr-number-of-pages", "content": str(len(document.pages))})
    body = ET.SubElement(html, "body")
    for number, page in enumerate(document.pages, start=1):
        _page(body, page, number, document.source)
    ET.indent(html, space=" ")
    return _PROLOG + ET.tostring(html, encoding="unicode") + "\n"


def _page(body: ET.Element, page: Page, number: int, source: str) -> None:
    image = source.replace("\\", "\\\\").replace('"', '\\"')
    title = f'image "{xml_text(image)}"; bbox 0 0 {page.width} {page.height}; ppageno {page.index}'
    if page.points is not None:  # a rendered PDF page: its resolution is known
        dpi = round(page.width * POINTS_PER_INCH / page.points[0])
        title += f"; scan_res {dpi} {dpi}"
    div = ET.SubElement(body, "div", {"class": "ocr_page", "id": f"page_{number}", "title": title})
    blocks, lines, words = count(1), count(1), count(1)
    for block in page.blocks:
        n = next(blocks)
        area = ET.SubElement(div, "div", _attrs("ocr_carea", f"block_{number}_{n}", block.polygon, page))
        par = ET.SubElement(area, "p", _attrs("ocr_par", f"par_{number}_{n}", block.polygon, page))
        for line in block.lines:
            span = ET.SubElement(par, "span", _attrs("ocr_line", f"line_{number}_{next(lines)}", line.polygon, page))
            for word in line.words:
                attrs = _attrs("ocrx_word", f"word_{number}_{next(words)}", word.polygon, page)
                attrs["title"] += f"; x_wconf {percent(word.confidence)}"
                attrs["data-source"] = word.source
                ET.SubElement(span, "span", attrs).text = xml_text(word.text)


def _attrs(cls: str, ident: str, polygon: Polygon, page: Page) -> dict[str, str]:
    left, top, right, bottom = pixel_box(polygon, page)
    return {"class": cls, "id": ident, "title": f"bbox {left} {top} {right} {bottom}"}
