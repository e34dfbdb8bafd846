"""ALTO v4 XML: Description (pixel units, source image, software) and Layout/Page/…/String."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import count

from .. import __version__
from ..document import Document, Line, Page, Polygon
from .common import pixel_box, xml_text

NAMESPACE = "http://www.loc.gov/standards/alto/ns-v4#"
_SCHEMA_LOCATION = f"{NAMESPACE} http://www.loc.gov/standards/alto/v4/alto-4-2.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def render(document: Document) -> str:
    """``document`` as one ALTO file (every page a ``Page``)."""
    alto = ET.Element("alto", {"xmlns": NAMESPACE, "xmlns:xsi": _XSI, "xsi:schemaLocation": _SCHEMA_LOCATION})
    _description(ET.SubElement(alto, "Description"), document)
    layout = ET.SubElement(alto, "Layout")
    for number, page in enumerate(document.pages, start=1):
        _page(layout, page, number)
    ET.indent(alto, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(alto, encoding="unicode") + "\n"


def _description(description: ET.Element, document: Document) -> None:
    ET.SubElement(description, "MeasurementUnit").text = "pixel"
    source = ET.SubElement(description, "sourceImageInformation")
    ET.SubElement(source, "fileName").text = xml_text(document.source)
    step = ET.SubElement(ET.SubElement(description, "OCRProcessing", {"ID": "OCR_0"}), "ocrProcessingStep")
    engines = sorted({word.source for page in document.pages for word in page.words})
    if engines:
        ET.SubElement(step, "processingStepSettings").text = xml_text("engines: " + ", ".join(engines))
    software = ET.SubElement(step, "processingSoftware")
    ET.SubElement(software, "softwareName").text = "ocr"
    ET.SubElement(software, "softwareVersion").text = __version__


def _page(layout: ET.Element, page: Page, number: int) -> None:
    size = {"WIDTH": str(page.width), "HEIGHT": str(page.height)}
    element = ET.SubElement(
        layout, "Page", {"ID": f"page_{number}", "PHYSICAL_IMG_NR": str(page.index + 1), **size}
    )
    space = ET.SubElement(element, "PrintSpace", {"HPOS": "0", "VPOS": "0", **size})
    blocks, lines, strings = count(1), count(1), count(1)
    for block in page.blocks:
        text_block = ET.SubElement(space, "TextBlock", _position(f"block_{number}_{next(blocks)}", block.polygon, page))
        for line in block.lines:
            if line.words:  # ALTO requires at least one String per TextLine
                text_line = ET.SubElement(
                    text_block, "TextLine", _position(f"line_{number}_{next(lines)}", line.polygon, page)
                )
                _strings(text_line, line, page, number, strings)


def _strings(text_line: ET.Element, line: Line, page: Page, number: int, ids: count[int]) -> None:
    previous_right = None
    for word in line.words:
        left, top, right, _ = pixel_box(word.polygon, page)
        if previous_right is not None:
            gap = {"WIDTH": str(max(left - previous_right, 0)), "HPOS": str(previous_right), "VPOS": str(top)}
            ET.SubElement(text_line, "SP", gap)
        attrs = _position(f"string_{number}_{next(ids)}", word.polygon, page)
        attrs["CONTENT"] = xml_text(word.text)
        attrs["WC"] = f"{round(word.confidence, 4):g}"
        ET.SubElement(text_line, "String", attrs)
        previous_right = right


def _position(ident: str, polygon: Polygon, page: Page) -> dict[str, str]:
    left, top, right, bottom = pixel_box(polygon, page)
    return {"ID": ident, "HPOS": str(left), "VPOS": str(top), "WIDTH": str(right - left), "HEIGHT": str(bottom - top)}
