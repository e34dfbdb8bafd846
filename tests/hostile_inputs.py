"""Inputs a hostile client would send: mutated images and PDFs, a PDF whose page content inflates to
gigabytes, multipart bodies of many fields, requests whose body trickles in; shared by the tests and
benchmarks/fuzz.py and soak.py."""

from __future__ import annotations

import io
import random
import socket
import zlib

from text_images import text_image

FUZZ_FORMATS = ("PNG", "JPEG", "TIFF", "GIF", "WEBP", "PDF")


def seed_files() -> dict[str, bytes]:
    """A small valid file per format of :data:`FUZZ_FORMATS` (a TIFF and a PDF of two pages), to mutate."""
    pages = [text_image("Fuzz 1"), text_image("Seed two").convert("L")]
    seeds = {}
    for fmt in FUZZ_FORMATS:
        buffer = io.BytesIO()
        if fmt in ("TIFF", "PDF"):
            pages[0].save(buffer, format=fmt, save_all=True, append_images=pages[1:])
        else:
            pages[0].save(buffer, format=fmt)
        seeds[fmt] = buffer.getvalue()
    return seeds


def mutate(data: bytes, rng: random.Random) -> bytes:
    """``data`` after 1 to 8 random edits (mostly few): bytes flipped or set to edge values, ranges cut, repeated or
    inserted, numbers in headers inflated, the end truncated."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 5, 8))):
        if not out:
            out += rng.randbytes(rng.randint(1, 64))
        kind = rng.randrange(7)
        at = rng.randrange(len(out))
        if kind == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[at] = rng.choice((0x00, 0x7F, 0x80, 0xFF))
        elif kind == 2:
            del out[at:at + rng.randint(1, 256)]
        elif kind == 3:
            end = min(len(out), at + rng.randint(1, 256))
            out[at:at] = out[at:end] * rng.randint(1, 8)
        elif kind == 4:
            out[at:at] = rng.randbytes(rng.randint(1, 64))
        elif kind == 5:  # a 16- or 32-bit field made huge (sizes, counts, offsets)
            width = rng.choice((2, 4))
            out[at:at + width] = rng.choice((b"\xff", b"\x7f")) * width
        else:
            del out[rng.randint(0, len(out) - 1):]
    return bytes(out)


def multipart(data: bytes, name: str, boundary: str = "fuzzb0undary") -> tuple[bytes, str]:
    """``data`` as the one file of a multipart form named ``name``, and its content type."""
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def pdf_bomb(inflated_mib: int) -> bytes:
    """A one-page PDF whose content stream (spaces, deflated) inflates to ``inflated_mib`` MiB."""
    deflate = zlib.compressobj(9)
    spaces = b" " * 2**20
    stream = b"".join(deflate.compress(spaces) for _ in range(inflated_mib)) + deflate.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


def many_fields(count: int, boundary: str = "b0undary") -> tuple[bytes, str]:
    """A multipart body of ``count`` one-byte fields and its content type."""
    field = f'--{boundary}\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n'.encode()
    return field * count + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def start_trickle(url: str, declared: int = 1_000_000) -> socket.socket:
    """A connection that sends a POST /v1/ocr announcing ``declared`` bytes, and one byte of them."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    connection.sendall(f"POST /v1/ocr HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
                       f"Content-Length: {declared}\r\n\r\n\x89".encode())
    return connection
