"""Render the sample inputs and their ground truth (deterministic: fixed texts, seeded noise).

    python samples/make_samples.py [OUTPUT_DIR]

Writes, next to this script by default, each sample with ``NAME.gt.txt``: its text,
lines joined by newlines, a blank line between blocks, and a form feed starting each PDF
page after the first (as ``Document.text`` does). Needs the DejaVu and Liberation fonts (Debian: fonts-dejavu-core,
fonts-liberation2) and pypdfium2.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import re
import sys
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = Path("/usr/share/fonts/truetype")
SERIF = FONTS / "liberation2/LiberationSerif-Regular.ttf"
SERIF_BOLD = FONTS / "liberation2/LiberationSerif-Bold.ttf"
SANS = FONTS / "dejavu/DejaVuSans.ttf"
SANS_BOLD = FONTS / "dejavu/DejaVuSans-Bold.ttf"
MONO = FONTS / "dejavu/DejaVuSansMono.ttf"
MONO_BOLD = FONTS / "dejavu/DejaVuSansMono-Bold.ttf"

Blocks = list[list[str]]
"""Text blocks, each a list of lines."""

CLEAN_PAGE: Blocks = [
    ["Annual Report of the Riverside Library"],
    [
        "The library opened its new reading room in March.",
        "Visitors borrowed 12,480 books, 3,150 magazines and",
        "940 films during the year, an increase of 8 percent",
        "over the previous season.",
    ],
    [
        "Volunteers repaired 215 damaged volumes and catalogued",
        "a donated collection of old maps. The board thanks",
        "every reader who returned a book on time.",
    ],
]

NOISY_SCAN: Blocks = [
    ["Minutes of the Garden Committee"],
    [
        "Present: six members and two guests from the",
        "neighbouring school. The meeting began at 7:15 pm.",
    ],
    [
        "1. The north beds will be planted with beans and",
        "squash in May; seeds cost 42 dollars in total.",
        "2. A new water tank holds 1,200 litres.",
        "3. The next meeting is on Thursday, 9 June.",
    ],
]

RECEIPT_HEADER = ["CORNER GROCERY", "12 Market Street", "Date 2024-03-18 14:02"]
RECEIPT_ITEMS = [
    ("Milk 1L", "1.49"),
    ("Bread", "2.30"),
    ("Apples 1kg", "3.15"),
    ("Coffee beans", "8.99"),
    ("TOTAL", "15.93"),
    ("Cash", "20.00"),
    ("Change", "4.07"),
]
RECEIPT_FOOTER = ["Thank you for shopping!"]

PDF_PAGE_1: Blocks = [
    ["Field Guide to Common Birds"],
    [
        "The robin is a small bird with a red breast.",
        "It sings early in the morning and feeds on",
        "worms, insects and berries.",
    ],
]
PDF_PAGE_2: Blocks = [
    ["Chapter Two: Water Birds"],
    [
        "Ducks and geese live near lakes and rivers.",
        "Herons stand still in shallow water and wait",
        "for fish to swim close to their long beaks.",
    ],
]


def gt_text(blocks: Blocks) -> str:
    """Lines joined by newlines, a blank line between blocks."""
    return "\n\n".join("\n".join(lines) for lines in blocks)


def draw_blocks(draw: ImageDraw.ImageDraw, blocks: Blocks, fonts: list[ImageFont.FreeTypeFont],
                origin: tuple[int, int], fill: int | tuple[int, int, int], leading: float = 1.45) -> int:
    """Draw ``blocks`` (block k in ``fonts[min(k, -1)]``) from ``origin``; returns the y below the text."""
    x, y = origin
    for k, lines in enumerate(blocks):
        font = fonts[min(k, len(fonts) - 1)]
        step = round(font.size * leading)
        for line in lines:
            draw.text((x, y), line, font=font, fill=fill)
            y += step
        y += step // 2
    return y


def text_page(blocks: Blocks, fonts: list[ImageFont.FreeTypeFont], margin: int, paper: int, ink: int) -> Image.Image:
    """A grayscale page just large enough for ``blocks`` with ``margin`` around them."""
    width = max(fonts[min(k, len(fonts) - 1)].getlength(line) for k, b in enumerate(blocks) for line in b)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    height = draw_blocks(probe, blocks, fonts, (0, 0), 0)
    page = Image.new("L", (round(width) + 2 * margin, height + 2 * margin), paper)
    draw_blocks(ImageDraw.Draw(page), blocks, fonts, (margin, margin), ink)
    return page


def clean_page() -> Image.Image:
    """Black serif text on white, like a printed page scanned at 150 dpi."""
    return text_page(CLEAN_PAGE, [ImageFont.truetype(str(SERIF_BOLD), 34), ImageFont.truetype(str(SERIF), 28)],
                     margin=60, paper=255, ink=0)


def noisy_scan(rng: np.random.Generator) -> Image.Image:
    """A photocopy: grey paper, slight rotation, blur, sensor noise and specks."""
    page = text_page(NOISY_SCAN, [ImageFont.truetype(str(SANS_BOLD), 30), ImageFont.truetype(str(SANS), 26)],
                     margin=70, paper=228, ink=40)
    page = page.rotate(1.2, resample=Image.BICUBIC, expand=False, fillcolor=228)
    page = page.filter(ImageFilter.GaussianBlur(0.9))
    pixels = np.asarray(page, dtype=np.float32)
    pixels += rng.normal(0.0, 14.0, pixels.shape)
    pixels += np.linspace(-18.0, 12.0, pixels.shape[1])[None, :]  # uneven lighting
    specks = rng.random(pixels.shape) < 0.002
    pixels[specks] = rng.uniform(0, 120, int(specks.sum()))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def receipt_lines(width: int) -> list[str]:
    """The receipt's lines as printed: header and footer centred, prices right-aligned."""
    items = [f"{name}{' ' * (width - len(name) - len(price))}{price}" for name, price in RECEIPT_ITEMS]
    return [h.center(width).rstrip() for h in RECEIPT_HEADER] + [""] + items + [""] + [RECEIPT_FOOTER[0].center(width).rstrip()]


def receipt(rng: np.random.Generator) -> tuple[Image.Image, str]:
    """A narrow thermal-paper receipt in a monospaced font; returns the image and its ground truth."""
    font, bold = ImageFont.truetype(str(MONO), 20), ImageFont.truetype(str(MONO_BOLD), 20)
    columns = 26
    lines = receipt_lines(columns)
    step = 30
    page = Image.new("L", (round(font.getlength("M" * columns)) + 60, step * len(lines) + 60), 246)
    draw = ImageDraw.Draw(page)
    for k, line in enumerate(lines):
        draw.text((30, 30 + k * step), line, font=bold if line.startswith(("CORNER", "TOTAL")) else font, fill=30)
    pixels = np.asarray(page, dtype=np.float32) + rng.normal(0.0, 6.0, (page.height, page.width))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    truth = "\n".join(" ".join(line.split()) for line in lines if line.strip())
    return image, truth


def scoreboard() -> tuple[Image.Image, str]:
    """A game's final-score screen: coloured panels on a gradient, light text on dark."""
    width, height = 960, 540
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    top, bottom = np.array([18, 32, 74]), np.array([6, 12, 30])
    background = (top * (1 - ramp) + bottom * ramp) * np.ones((1, width, 1))
    image = Image.fromarray(background.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    title, label, team, score, small = (ImageFont.truetype(str(SANS_BOLD), s) for s in (40, 26, 34, 96, 24))
    draw.rectangle((0, 30, width, 100), fill=(150, 20, 30))
    draw.text((width / 2, 65), "FINAL SCORE", font=title, fill=(255, 214, 0), anchor="mm")
    panels = [("HOME", "Riverside Rovers", (24, 110, 60), 40), ("AWAY", "Harbor City FC", (92, 40, 140), 520)]
    for side, name, colour, x in panels:
        draw.rounded_rectangle((x, 140, x + 400, 290), radius=18, fill=colour)
        draw.text((x + 200, 180), side, font=label, fill=(230, 230, 230), anchor="mm")
        draw.text((x + 200, 240), name, font=team, fill=(255, 255, 255), anchor="mm")
    draw.text((width / 2, 380), "3 - 1", font=score, fill=(255, 255, 255), anchor="mm")
    draw.text((width / 2, 480), "Attendance 24,512", font=small, fill=(170, 190, 220), anchor="mm")
    truth = "FINAL SCORE\n\nHOME\nRiverside Rovers\n\nAWAY\nHarbor City FC\n\n3 - 1\n\nAttendance 24,512"
    return image, truth


def _add_text(pdf: pdfium.PdfDocument, page: pdfium.PdfPage, text: str, font: bytes, size: float,
              x: float, y: float) -> None:
    """Put ``text`` on ``page`` with its baseline at (x, y) in points, in a standard PDF font."""
    obj = pdfium_c.FPDFPageObj_NewTextObj(pdf.raw, font, ctypes.c_float(size))
    encoded = ctypes.create_string_buffer((text + "\0").encode("utf-16-le"))
    pdfium_c.FPDFText_SetText(obj, ctypes.cast(encoded, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
    pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
    pdfium_c.FPDFPage_InsertObject(page.raw, obj)


def two_page_pdf(rng: np.random.Generator) -> bytes:
    """An A5 PDF: page 1 born-digital (vector text), page 2 a scanned image of a page."""
    a5 = (419.5, 595.3)  # points
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(*a5)
    y = a5[1] - 72
    for k, lines in enumerate(PDF_PAGE_1):
        for line in lines:
            _add_text(pdf, page, line, b"Times-Bold" if k == 0 else b"Times-Roman", 15 if k == 0 else 12, 50, y)
            y -= 18
        y -= 9
    page.gen_content()

    scan = text_page(PDF_PAGE_2, [ImageFont.truetype(str(SERIF_BOLD), 31), ImageFont.truetype(str(SERIF), 25)],
                     margin=0, paper=250, ink=25)
    dpi = 150
    canvas = Image.new("L", (round(a5[0] / 72 * dpi), round(a5[1] / 72 * dpi)), 250)
    canvas.paste(scan, (104, 150))
    pixels = np.asarray(canvas, dtype=np.float32) + rng.normal(0.0, 5.0, (canvas.height, canvas.width))
    jpeg = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(jpeg, "JPEG", quality=75)
    page = pdf.new_page(*a5)
    image = pdfium.PdfImage.new(pdf)
    image.load_jpeg(io.BytesIO(jpeg.getvalue()), inline=True)
    image.set_matrix(pdfium.PdfMatrix().scale(*a5))
    page.insert_obj(image)
    page.gen_content()

    out = io.BytesIO()
    pdf.save(out)
    return _pin_timestamps(out.getvalue())


def _pin_timestamps(data: bytes) -> bytes:
    """Replace the creation time and file ID that PDFium stamps (same lengths, so offsets hold)."""
    data = re.sub(rb"/CreationDate\(D:\d{14}", b"/CreationDate(D:20240101000000", data)
    file_id = hashlib.md5(re.sub(rb"/ID\[<[0-9A-F]+><[0-9A-F]+>\]", b"", data)).hexdigest().upper().encode()
    return re.sub(rb"/ID\[<[0-9A-F]{32}><[0-9A-F]{32}>\]", b"/ID[<" + file_id + b"><" + file_id + b">]", data)


def rotated_page() -> Image.Image:
    """The clean page scanned crooked and sideways: its lines rise 3 degrees, then it is turned a quarter clockwise."""
    crooked = clean_page().convert("RGB").rotate(3, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    return crooked.rotate(-90, expand=True)


def main(folder: Path) -> None:
    """Write every sample and its ground truth into ``folder``."""
    rng = np.random.default_rng(2024)
    folder.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, tuple[bytes, str]] = {}

    def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **params)
        return buffer.getvalue()

    outputs["clean_page.png"] = (encoded(clean_page(), "PNG", optimize=True), gt_text(CLEAN_PAGE))
    outputs["noisy_scan.jpg"] = (encoded(noisy_scan(rng), "JPEG", quality=80), gt_text(NOISY_SCAN))
    image, truth = receipt(rng)
    outputs["receipt.png"] = (encoded(image, "PNG", optimize=True), truth)
    image, truth = scoreboard()
    outputs["scoreboard.png"] = (encoded(image, "PNG", optimize=True), truth)
    outputs["two_page.pdf"] = (two_page_pdf(rng), gt_text(PDF_PAGE_1) + "\n\f" + gt_text(PDF_PAGE_2))
    outputs["rotated_page.png"] = (encoded(rotated_page(), "PNG", optimize=True), gt_text(CLEAN_PAGE))
    for name, (data, truth) in outputs.items():
        (folder / name).write_bytes(data)
        (folder / f"{Path(name).stem}.gt.txt").write_text(truth + "\n", encoding="utf-8")
        print(f"{name}: {len(data) / 1024:.0f} KB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
