"""Searchable PDF: each page's original image (or the input PDF's own page) under an invisible text layer.

Written with pikepdf (qpdf): an input PDF's pages are kept as they are, content streams
untouched, and the text layer is appended as one more content stream (pages that already
hold text, born digital or OCRed before, keep theirs and get none); an image input
becomes pages of its decoded images (a JPEG without EXIF rotation is embedded as it was,
byte for byte). Each word is drawn in text render mode 3 (invisible) with a glyphless
font whose every glyph is half an em wide, scaled so the word spans its outline exactly:
a viewer selects, searches and copies the words where they lie on the image.

Coordinates: word outlines are pixels of the page images at ``dpi`` (as the pipeline
rendered a PDF's pages, or as an image's pixels are laid on a page of width pixels/dpi
inches).
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from typing import Iterable, Iterator

import numpy as np
import pikepdf
from PIL import Image

from ..document import Document, Word
from ..io import iter_pages
from ..io.formats import sniff
from ..io.pdf import pages_with_text

POINTS_PER_INCH = 72
GLYPH_WIDTH = 500
"""Width of every glyph of the text layer's font, in thousandths of the font size."""

ASCENT, DESCENT = 800, -200
"""The font's ascent and descent in thousandths: a word's outline spans DESCENT..ASCENT of its font size."""

FONT_NAME = "OcrTextLayer"

QUARTERS = ((1, 0), (0, 1), (-1, 0), (0, -1))
"""(cos, sin) of the four directions a baseline may take."""


def render_pdf(document: Document, original: bytes, dpi: int) -> bytes:
    """``document`` as a searchable PDF over ``original``, the input it was read from (PDF or image).

    ``dpi``: the resolution the pages were read at (a PDF's pages rendered at it; an image's
    page is its pixels at it). One PDF page per page of ``document``.
    """
    if sniff(original) == "PDF":
        pdf, has_text = pikepdf.open(io.BytesIO(original)), pages_with_text(original)
    else:
        pdf, has_text = _image_pdf(document, original, dpi), [False] * len(document.pages)
    font = _font(pdf)
    scale = POINTS_PER_INCH / dpi
    for page, pdf_page, text in zip(document.pages, pdf.pages, has_text):
        if text:
            continue
        placement = _placement(pdf_page)
        layer = "".join(_word_ops(word, scale, placement) for word in page.words)
        if not layer:
            continue
        pdf_page.add_resource(font, pikepdf.Name.Font, pikepdf.Name("/" + FONT_NAME))
        # the original content in q ... Q, so the layer starts from the default graphics state
        pdf_page.contents_add(pdf.make_stream(b"q\n"), prepend=True)
        pdf_page.contents_add(pdf.make_stream(f"Q\nBT 3 Tr\n{layer}ET\n".encode("ascii")))
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


# --------------------------------------------------------------------------- pages from images


def _image_pdf(document: Document, original: bytes, dpi: int) -> pikepdf.Pdf:
    """A PDF with one page per page image of ``original``, each ``width/dpi`` × ``height/dpi`` inches."""
    pdf = pikepdf.new()
    passthrough = _plain_jpeg(original)
    for page, pixels in zip(document.pages, _images(original, len(document.pages))):
        width, height = page.width * POINTS_PER_INCH / dpi, page.height * POINTS_PER_INCH / dpi
        if passthrough is not None:
            image = pdf.make_stream(original, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                                    Width=page.width, Height=page.height, BitsPerComponent=8,
                                    ColorSpace=pikepdf.Name(passthrough), Filter=pikepdf.Name.DCTDecode)
        else:
            image = pdf.make_stream(pixels.tobytes(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                                    Width=page.width, Height=page.height, BitsPerComponent=8,
                                    ColorSpace=pikepdf.Name.DeviceRGB)  # qpdf compresses it on save
        pdf.add_blank_page(page_size=(width, height))
        pdf_page = pdf.pages[-1]
        pdf_page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
        pdf_page.contents_add(pdf.make_stream(f"q {width:.4f} 0 0 {height:.4f} 0 0 cm /Im0 Do Q\n".encode("ascii")))
    return pdf


def _images(original: bytes, count: int) -> Iterator[np.ndarray]:
    """The page images of an image input, as the pipeline decoded them (limits were checked then)."""
    return iter_pages(original, max_pixels=2**62, max_pages=count)


def _plain_jpeg(original: bytes) -> str | None:
    """The PDF color space of a JPEG embeddable as it is (no EXIF turn, gray or RGB); else ``None``."""
    if sniff(original) != "JPEG":
        return None
    with Image.open(io.BytesIO(original)) as image:
        if image.getexif().get(0x0112, 1) != 1:
            return None
        return {"L": "/DeviceGray", "RGB": "/DeviceRGB"}.get(image.mode)


# --------------------------------------------------------------------------- the text layer


def _placement(pdf_page: pikepdf.Page) -> np.ndarray:
    """The 3×3 map from points on the page as shown (origin top-left, y down) to the page's user space."""
    x0, y0, x1, y1 = (float(v) for v in pdf_page.cropbox)
    rotate = int(pdf_page.obj.get(pikepdf.Name.Rotate, 0)) % 360
    if rotate == 90:
        return np.array([[0.0, 1.0, x0], [1.0, 0.0, y0], [0.0, 0.0, 1.0]])
    if rotate == 180:
        return np.array([[-1.0, 0.0, x1], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    if rotate == 270:
        return np.array([[0.0, -1.0, x1], [-1.0, 0.0, y1], [0.0, 0.0, 1.0]])
    return np.array([[1.0, 0.0, x0], [0.0, -1.0, y1], [0.0, 0.0, 1.0]])


def _word_ops(word: Word, scale: float, placement: np.ndarray) -> str:
    """The text operators drawing ``word`` invisibly over the box around its outline, its baseline
    along the quarter turn nearest its own (empty for an empty word)."""
    codes = _codes(word.text)
    if not codes:
        return ""
    points = np.array(word.polygon, dtype=np.float64) * scale @ placement[:2, :2].T + placement[:2, 2]
    along = points[1] - points[0]
    quarter = round(math.degrees(math.atan2(along[1], along[0])) / 90) % 4
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    length, height = (x1 - x0, y1 - y0) if quarter % 2 == 0 else (y1 - y0, x1 - x0)
    if length <= 0 or height <= 0:
        return ""
    cos, sin = QUARTERS[quarter]
    start = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))[quarter]  # where the baseline starts, on the box's bottom
    size = height * 1000 / (ASCENT - DESCENT)
    origin_x, origin_y = start[0] + DESCENT / 1000 * size * sin, start[1] - DESCENT / 1000 * size * cos
    stretch = 100 * length / (len(codes) / 4 * GLYPH_WIDTH / 1000 * size)
    return (f"/{FONT_NAME} {size:.3f} Tf {stretch:.3f} Tz {cos} {sin} {-sin} {cos} "
            f"{origin_x:.3f} {origin_y:.3f} Tm <{codes}> Tj\n")


def _codes(text: str) -> str:
    """``text`` as hex two-byte codes (its UTF-16 code points; characters beyond U+FFFF become U+FFFD)."""
    return "".join(f"{ord(ch) if ord(ch) <= 0xFFFF and not 0xD800 <= ord(ch) <= 0xDFFF else 0xFFFD:04X}"
                   for ch in text if ch.isprintable())


def _font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """The glyphless Type 0 font of the text layer: codes are Unicode code points (Identity-H and a
    ToUnicode map), every glyph :data:`GLYPH_WIDTH` wide, the glyph program embedded."""
    descriptor = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name("/" + FONT_NAME), Flags=5,
        FontBBox=[0, DESCENT, GLYPH_WIDTH, ASCENT], ItalicAngle=0, Ascent=ASCENT, Descent=DESCENT, CapHeight=ASCENT,
        StemV=80, FontFile2=pdf.make_stream(_glyphless_font())))
    cid_font = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType2, BaseFont=pikepdf.Name("/" + FONT_NAME),
        CIDSystemInfo=pikepdf.Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"),
                                         Supplement=0),
        FontDescriptor=descriptor, DW=GLYPH_WIDTH, CIDToGIDMap=pikepdf.Name.Identity))
    return pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name("/" + FONT_NAME),
        Encoding=pikepdf.Name("/Identity-H"), DescendantFonts=[cid_font], ToUnicode=pdf.make_stream(_to_unicode())))


def _to_unicode() -> bytes:
    """A CMap reading every two-byte code as the Unicode code point it is."""
    ranges = [f"<{high:02X}00> <{high:02X}FF> <{high:02X}00>" for high in range(256) if not 0xD8 <= high <= 0xDF]
    blocks = "".join(f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange\n"
                     for chunk in _chunks(ranges, 100))
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{blocks}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode("ascii")


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    return (items[i:i + size] for i in range(0, len(items), size))


@lru_cache(maxsize=1)
def _glyphless_font() -> bytes:
    """A TrueType font with one empty glyph, :data:`GLYPH_WIDTH` wide, built with fontTools."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef"])
    builder.setupCharacterMap({})
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph()})
    builder.setupHorizontalMetrics({".notdef": (GLYPH_WIDTH, 0)})
    builder.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    builder.setupNameTable({"familyName": FONT_NAME, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=ASCENT, sTypoDescender=DESCENT, usWinAscent=ASCENT, usWinDescent=-DESCENT)
    builder.setupPost()
    builder.font["head"].created = builder.font["head"].modified = 0  # the same bytes every time
    builder.font.recalcTimestamp = False
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()

