"""Searchable PDF output: the text layer read back by an independent reader (poppler's ``pdftotext
-bbox``) lies on the JSON words; original pages and images are kept."""

from __future__ import annotations

import io
from dataclasses import replace
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from PIL import Image
from sample_files import sample

from ocr.cli import main
from ocr.config import ScanOptions
from ocr.document import Document, bounding_box
from ocr.engines.tesseract import TesseractEngine
from ocr.export import render_file
from ocr.pipeline import read_document

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")

XHTML = "{http://www.w3.org/1999/xhtml}"
Box = tuple[float, float, float, float]


def pdftotext_words(path: Path) -> list[tuple[float, float, list[tuple[str, Box]]]]:
    """Each page's size in points and its words with their boxes, as ``pdftotext -bbox`` reads them."""
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, check=True, timeout=60).stdout
    pages = []
    for page in ET.fromstring(out).iter(f"{XHTML}page"):
        words = [(word.text or "", tuple(float(word.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")))
                 for word in page.iter(f"{XHTML}word")]
        pages.append((float(page.get("width")), float(page.get("height")), words))  # type: ignore[arg-type]
    return pages


def iou(a: Box, b: Box) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def found_share(document: Document, pdf: Path) -> float:
    """The share of ``document``'s words that pdftotext finds in ``pdf`` with the same text and IoU ≥ 0.5."""
    pages = pdftotext_words(pdf)
    assert len(pages) == len(document.pages)
    found = total = 0
    for page, (width, _, words) in zip(document.pages, pages):
        scale = width / page.width
        for word in page.words:
            box = tuple(v * scale for v in bounding_box([word.polygon]))
            total += 1
            found += any(text == word.text and iou(box, other) >= 0.5 for text, other in words)  # type: ignore[arg-type]
    assert total > 0
    return found / total


def scan(*args: str) -> None:
    result = CliRunner().invoke(main, ["scan", *args])
    assert result.exit_code == 0, result.output


def test_two_page_pdf_keeps_both_pages_and_its_words_are_found_where_the_json_puts_them(tmp_path: Path) -> None:
    scan(str(sample("two_page.pdf")), "-f", "pdf", "-o", str(tmp_path / "out.pdf"))
    scan(str(sample("two_page.pdf")), "-f", "json", "-o", str(tmp_path / "out.json"))
    document = Document.from_dict(json.loads((tmp_path / "out.json").read_text()))
    assert len(pdfium.PdfDocument(tmp_path / "out.pdf")) == 2
    assert found_share(document, tmp_path / "out.pdf") >= 0.95
    with pikepdf.open(sample("two_page.pdf")) as before, pikepdf.open(tmp_path / "out.pdf") as after:
        for old, new in zip(before.pages, after.pages):  # the original content is all still there, unchanged
            assert old.mediabox == new.mediabox
            old_content = b"".join(s.read_bytes() for s in _streams(old))
            assert old_content in b"".join(s.read_bytes() for s in _streams(new))


def _streams(page: pikepdf.Page) -> list[pikepdf.Stream]:
    contents = page.obj.Contents
    return list(contents) if isinstance(contents, pikepdf.Array) else [contents]


@pytest.mark.parametrize("name", ["rotated_page.png", "receipt.png", "noisy_scan.jpg"])
def test_an_image_becomes_a_page_of_its_pixels_under_a_text_layer_on_its_words(tmp_path: Path, name: str) -> None:
    data = sample(name).read_bytes()
    options = ScanOptions(engine="tesseract", dpi=200)
    document = read_document(data, options, TesseractEngine(), name=name)
    (tmp_path / "out.pdf").write_bytes(render_file(document, "pdf", data, options.dpi))
    with Image.open(io.BytesIO(data)) as image:
        size = image.size
    page = pdfium.PdfDocument(tmp_path / "out.pdf")[0]
    assert page.get_size() == pytest.approx((size[0] * 72 / 200, size[1] * 72 / 200))
    assert found_share(document, tmp_path / "out.pdf") >= 0.95
    with pikepdf.open(tmp_path / "out.pdf") as pdf:
        (image_stream,) = pdf.pages[0].get_images().values()
        assert (int(image_stream.Width), int(image_stream.Height)) == size
        if name.endswith(".jpg"):  # the JPEG itself, not a re-encoding
            assert image_stream.read_raw_bytes() == data


def test_the_text_layer_is_invisible_and_copies_as_the_words(tmp_path: Path) -> None:
    data = sample("clean_page.png").read_bytes()
    document = read_document(data, ScanOptions(engine="tesseract"), TesseractEngine(), name="clean")
    path = tmp_path / "out.pdf"
    path.write_bytes(render_file(document, "pdf", data, 300))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert text.split() == document.text.split()
    with pikepdf.open(path) as pdf:
        layer = _streams(pdf.pages[0])[-1].read_bytes()
        assert b"3 Tr" in layer  # render mode 3: neither filled nor stroked
    bare = tmp_path / "bare.pdf"  # the same page with no words: only the image
    bare.write_bytes(render_file(Document("clean", tuple(replace(p, blocks=()) for p in document.pages)), "pdf", data, 300))
    drawn, image_only = (pdfium.PdfDocument(p)[0].render(scale=300 / 72).to_numpy() for p in (path, bare))
    assert np.array_equal(drawn, image_only)  # the text layer draws nothing


def test_several_inputs_need_an_output_folder_and_get_one_pdf_each(tmp_path: Path) -> None:
    inputs = [str(sample("clean_page.png")), str(sample("two_page.pdf"))]
    result = CliRunner().invoke(main, ["scan", *inputs, "-e", "tesseract", "-f", "pdf", "-o", str(tmp_path / "a.pdf")])
    assert result.exit_code == 2 and "--output FOLDER" in result.output
    scan(*inputs, "-e", "tesseract", "-f", "pdf", "-o", str(tmp_path))
    assert [len(pdfium.PdfDocument(tmp_path / f"{stem}.pdf")) for stem in ("clean_page", "two_page")] == [1, 2]


def test_batch_writes_searchable_pdfs(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(sample("two_page.pdf"), folder)
    result = CliRunner().invoke(main, ["batch", str(folder), "-o", str(tmp_path / "out"), "-f", "json,pdf", "-w", "1"])
    assert result.exit_code == 0, result.output
    document = Document.from_dict(json.loads((tmp_path / "out" / "two_page.pdf.json").read_text()))
    assert found_share(document, tmp_path / "out" / "two_page.pdf.pdf") >= 0.95
