"""Input decoding: every format from generated files, normalization, limits and bad inputs."""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

from ocr.errors import InputError
from ocr.io import SUPPORTED_FORMATS, iter_pages, load_pages
from ocr.io.files import replacing, write_atomic

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 160, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _quadrants(width: int = 64, height: int = 48) -> Image.Image:
    """Red, green, blue and white quadrants (clockwise from the top-left)."""
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=RED)
    draw.rectangle((width // 2, 0, width - 1, height // 2 - 1), fill=GREEN)
    draw.rectangle((width // 2, height // 2, width - 1, height - 1), fill=BLUE)
    return image


def _only_page(data: bytes | Path, **options: object) -> np.ndarray:
    pages = load_pages(data, **options)
    assert len(pages) == 1
    page = pages[0]
    assert page.dtype == np.uint8 and page.ndim == 3 and page.shape[2] == 3
    return page


def _close(pixel: np.ndarray, color: tuple[int, int, int], tolerance: int = 12) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(color)) <= tolerance))


# --- formats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}), ("GIF", {})],
)
def test_lossless_formats_decode_exactly(fmt: str, options: dict[str, object]) -> None:
    image = _quadrants()
    page = _only_page(_encode(image, fmt, **options))
    assert (page == np.asarray(image)).all()


def test_jpeg() -> None:
    page = _only_page(_encode(_quadrants(), "JPEG", quality=95))
    assert page.shape == (48, 64, 3)
    assert _close(page[5, 5], RED) and _close(page[40, 60], BLUE) and _close(page[40, 5], WHITE)


def test_path_and_bytes_give_the_same_pages(tmp_path: Path) -> None:
    data = _encode(_quadrants(), "PNG")
    path = tmp_path / "misnamed.jpg"  # the extension is ignored: the content is PNG
    path.write_bytes(data)
    assert (load_pages(path)[0] == load_pages(data)[0]).all()
    assert (load_pages(str(path))[0] == load_pages(data)[0]).all()


def test_multipage_tiff_gives_every_page() -> None:
    frames = [_quadrants(64, 48), Image.new("L", (30, 20), 90), Image.new("1", (16, 8), 1)]
    data = _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    pages = load_pages(data)
    assert [p.shape for p in pages] == [(48, 64, 3), (20, 30, 3), (8, 16, 3)]
    assert (pages[0] == np.asarray(frames[0])).all()
    assert (pages[1] == 90).all()
    assert (pages[2] == 255).all()


def test_iter_pages_yields_pages_one_at_a_time() -> None:
    frames = [Image.new("L", (10, 10), v) for v in (0, 100, 200)]
    pages = iter_pages(_encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]))
    assert [int(next(pages)[0, 0, 0]) for _ in range(3)] == [0, 100, 200]
    assert next(pages, None) is None


def test_gif_gives_the_first_frame_only() -> None:
    frames = [Image.new("RGB", (20, 10), RED), Image.new("RGB", (20, 10), BLUE)]
    page = _only_page(_encode(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    assert _close(page[5, 5], RED, 0)


# --- normalization -----------------------------------------------------------------------


def test_grayscale_and_one_bit() -> None:
    assert (_only_page(_encode(Image.new("L", (8, 4), 77), "PNG")) == 77).all()
    one_bit = Image.new("1", (8, 4), 0)
    one_bit.putpixel((3, 2), 1)
    page = _only_page(_encode(one_bit, "PNG"))
    assert tuple(page[2, 3]) == WHITE and tuple(page[0, 0]) == BLACK


def test_sixteen_bit_grayscale_is_scaled() -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)  # 0, 1, 128, 255 in 8 bits
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")
    for fmt in ("PNG", "TIFF"):
        page = _only_page(_encode(image, fmt))
        assert page[0, :, 0].tolist() == [0, 1, 128, 255]
        assert (page[..., 0] == page[..., 1]).all() and (page[..., 1] == page[..., 2]).all()


def test_palette_with_transparency_goes_on_white() -> None:
    image = Image.new("P", (10, 10), 0)
    image.putpalette([*RED, *BLUE] + [0] * 762)
    image.putpixel((0, 0), 1)
    image.info["transparency"] = 0  # index 0 (red) is transparent
    page = _only_page(_encode(image, "PNG", transparency=0))
    assert tuple(page[5, 5]) == WHITE
    assert tuple(page[0, 0]) == BLUE


def test_alpha_is_composited_on_white() -> None:
    image = Image.new("RGBA", (3, 1))
    image.putdata([(0, 0, 0, 0), (0, 0, 0, 255), (0, 0, 0, 128)])
    page = _only_page(_encode(image, "PNG"))
    assert tuple(page[0, 0]) == WHITE and tuple(page[0, 1]) == BLACK
    assert 120 <= page[0, 2, 0] <= 135
    gray_alpha = Image.new("LA", (2, 1))
    gray_alpha.putdata([(0, 0), (0, 255)])
    page = _only_page(_encode(gray_alpha, "PNG"))
    assert tuple(page[0, 0]) == WHITE and tuple(page[0, 1]) == BLACK


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = _quadrants().convert("CMYK")
    assert cmyk.mode == "CMYK"
    page = _only_page(_encode(cmyk, "JPEG", quality=95))
    assert _close(page[5, 5], RED) and _close(page[40, 60], BLUE) and _close(page[40, 5], WHITE)


def test_exif_orientation_is_applied() -> None:
    stored = Image.new("RGB", (60, 30), WHITE)  # landscape as stored: red left third
    ImageDraw.Draw(stored).rectangle((0, 0, 19, 29), fill=RED)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise: the stored left edge becomes the top
    page = _only_page(_encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert page.shape == (60, 30, 3)
    assert _close(page[5, 15], RED) and _close(page[55, 15], WHITE)


# --- PDF ---------------------------------------------------------------------------------


def _two_page_pdf() -> bytes:
    first = Image.new("RGB", (200, 100), WHITE)  # at 100 dpi: 2 x 1 inch
    ImageDraw.Draw(first).rectangle((0, 0, 99, 99), fill=BLACK)  # left half black
    second = Image.new("RGB", (100, 300), RED)  # 1 x 3 inch
    return _encode(first, "PDF", save_all=True, append_images=[second], resolution=100.0)


@pytest.mark.parametrize("dpi", [72, 150, 300])
def test_pdf_pages_are_rasterized_at_dpi(dpi: int) -> None:
    pages = load_pages(_two_page_pdf(), dpi=dpi)
    assert [p.shape for p in pages] == [(dpi, 2 * dpi, 3), (3 * dpi, dpi, 3)]
    assert all(p.dtype == np.uint8 for p in pages)
    first, second = pages
    assert _close(first[dpi // 2, dpi // 2], BLACK, 30) and _close(first[dpi // 2, 3 * dpi // 2], WHITE, 30)
    assert _close(second[dpi, dpi // 2], RED, 30)


def test_pdf_letter_page_at_300_dpi_is_2550_by_3300() -> None:
    document = pdfium.PdfDocument.new()
    document.new_page(612, 792)
    buffer = io.BytesIO()
    document.save(buffer)
    assert _only_page(buffer.getvalue(), dpi=300).shape == (3300, 2550, 3)


def test_pdf_page_rotation_is_applied() -> None:
    document = pdfium.PdfDocument(_two_page_pdf())
    document[0].set_rotation(90)
    buffer = io.BytesIO()
    document.save(buffer)
    assert load_pages(buffer.getvalue(), dpi=72)[0].shape == (144, 72, 3)


def test_pdf_page_over_the_pixel_limit() -> None:
    data = _two_page_pdf()
    assert len(load_pages(data, dpi=100, max_pixels=30_000)) == 2
    with pytest.raises(InputError) as caught:
        load_pages(data, dpi=300, max_pixels=100_000, name="scan.pdf")
    message = str(caught.value)
    assert message.startswith("scan.pdf: page 1: at 300 dpi the page is 600x300 = 180,000 pixels")
    assert "100,000" in message and "\n" not in message


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _encrypted_pdf(user_password: bytes) -> bytes:
    """A one-page PDF under the standard security handler (40-bit RC4, revision 2).

    The page has no strings or streams, so only the /O and /U entries need computing
    (PDF 1.7, 7.6.3.3, algorithms 2–4).
    """
    padding = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
    padded = lambda password: (password + padding)[:32]  # noqa: E731
    file_id, permissions = b"0123456789abcdef", -4
    owner = _rc4(hashlib.md5(padded(b"owner")).digest()[:5], padded(user_password))
    key = hashlib.md5(padded(user_password) + owner + struct.pack("<i", permissions) + file_id).digest()[:5]
    user = _rc4(key, padding)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (owner.hex().encode(), user.hex().encode(), permissions),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1, file_id.hex().encode(), file_id.hex().encode()
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_encrypted_pdf_is_refused() -> None:
    data = _encrypted_pdf(b"secret")
    assert len(pdfium.PdfDocument(data, password="secret")) == 1  # a real, readable encrypted PDF
    with pytest.raises(InputError, match=r"^locked\.pdf: PDF is encrypted \(password protected\)$"):
        load_pages(data, name="locked.pdf")


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\nthis is not a PDF body at all", _two_page_pdf()[:300]],
    ids=["garbage", "truncated"],
)
def test_broken_pdf_is_refused(data: bytes) -> None:
    with pytest.raises(InputError, match=r"^doc\.pdf: broken or unreadable PDF$"):
        load_pages(data, name="doc.pdf")


def test_pdf_without_pages_is_refused() -> None:
    buffer = io.BytesIO()
    pdfium.PdfDocument.new().save(buffer)
    with pytest.raises(InputError, match=r"^empty\.pdf: broken or unreadable PDF$"):
        load_pages(buffer.getvalue(), name="empty.pdf")


# --- bad inputs and limits ---------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(InputError, match=rf"^{missing}: no such file$"):
        load_pages(missing)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=rf"^{tmp_path}: is a directory, not a file$"):
        load_pages(tmp_path)


def test_empty_file_and_empty_bytes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=rf"^{empty}: empty file$"):
        load_pages(empty)
    with pytest.raises(InputError, match=r"^-: empty input$"):
        load_pages(b"", name="-")


@pytest.mark.parametrize(
    "data",
    [b"plain text, not an image\n", b"PK\x03\x04zipfile", b"\x00" * 64, b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
    ids=["text", "zip", "zeros", "svg"],
)
def test_unsupported_format_lists_the_supported_ones(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        load_pages(data, name="notes.txt")
    assert str(caught.value) == f"notes.txt: unsupported format (supported: {', '.join(SUPPORTED_FORMATS)})"
    assert {"PNG", "JPEG", "TIFF", "BMP", "WebP", "GIF", "PDF"} == set(SUPPORTED_FORMATS)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF"])
def test_truncated_images_are_refused(fmt: str) -> None:
    data = _encode(Image.effect_noise((64, 64), 60).convert("RGB"), fmt)
    label = "WebP" if fmt == "WEBP" else fmt
    with pytest.raises(InputError, match=rf"^cut: cannot decode {label} image \(.+\)$"):
        load_pages(data[: len(data) // 2], name="cut")


def test_corrupt_header_is_refused() -> None:
    data = bytearray(_encode(_quadrants(), "PNG"))
    data[12:16] = b"XXXX"  # the IHDR chunk type
    with pytest.raises(InputError, match=r"^bad\.png: cannot decode PNG image"):
        load_pages(bytes(data), name="bad.png")


def test_image_over_the_pixel_limit() -> None:
    data = _encode(_quadrants(64, 48), "PNG")
    assert len(load_pages(data, max_pixels=64 * 48)) == 1
    with pytest.raises(InputError, match=r"^big\.png: 64x48 = 3,072 pixels exceeds the limit of 3,071 pixels$"):
        load_pages(data, max_pixels=64 * 48 - 1, name="big.png")


def test_tiff_page_over_the_pixel_limit_is_named() -> None:
    frames = [Image.new("L", (10, 10)), Image.new("L", (100, 100))]
    data = _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(InputError, match=r"^t\.tif: page 2: 100x100 = 10,000 pixels exceeds the limit"):
        load_pages(data, max_pixels=5000, name="t.tif")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring ``width``×``height`` 1-bit pixels with a tiny, truncated data stream."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(12_000, 9_000), (50_000, 50_000)], ids=["over-limit", "bomb"])
def test_decompression_bombs_are_refused_before_decoding(width: int, height: int) -> None:
    data = _png_header_only(width, height)
    assert len(data) < 200
    with warnings.catch_warnings(record=True) as caught:
        with pytest.raises(InputError, match=r"^bomb\.png: .*exceeds the limit of 100,000,000 pixels$"):
            load_pages(data, name="bomb.png")
    assert not caught, "PIL's DecompressionBombWarning leaked"


def test_error_messages_default_to_the_path_or_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"nothing")
    with pytest.raises(InputError, match=rf"^{path}: unsupported format"):
        load_pages(path)
    with pytest.raises(InputError, match=r"^<bytes>: unsupported format"):
        load_pages(b"nothing")


def test_whole_file_writes_keep_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "result.json"
    write_atomic(target, "first\n")
    with pytest.raises(RuntimeError):
        with replacing(target) as temp:
            temp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "first\n"
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]
