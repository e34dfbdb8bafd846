"""Inputs a hostile client would send: a PDF whose page content inflates to gigabytes, multipart bodies
of many fields, requests whose body trickles in; shared by the tests and benchmarks/fuzz.py and soak.py."""

from __future__ import annotations

import socket
import zlib


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
