"""Reading an upload into memory: a raw body or one file of a multipart form, under a size limit.

Nothing touches the disk: the body is read in chunks, refused as soon as it passes the
limit, and a multipart form is parsed from memory, in a thread (a large form must not
stall the event loop) and no further than :data:`MAX_PARTS` parts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator

from python_multipart.multipart import MultipartParser, parse_options_header

RAW_TYPES: frozenset[str] = frozenset({
    "image/png", "image/jpeg", "image/pjpeg", "image/tiff", "image/bmp", "image/x-ms-bmp", "image/webp",
    "image/gif", "application/pdf", "application/octet-stream",
})
"""Media types accepted as a raw body (the format itself is recognized from the content)."""

MULTIPART = "multipart/form-data"
MULTIPART_SLACK = 64 * 1024
"""Bytes a multipart body may hold beyond the file's limit (part headers and boundaries)."""
MAX_PARTS = 16
"""Parts a multipart body may hold (one file, a few fields); more: 400, found as the parser meets them."""
MAX_PART_HEADERS = 16


class UploadProblem(Exception):
    """An upload that cannot be taken, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """An uploaded file's bytes and its name (the form's file name, else ``upload``)."""

    data: bytes
    name: str = "upload"


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """All of ``chunks``; :class:`UploadProblem` 413 as soon as they exceed ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise UploadProblem(413, f"upload exceeds the limit of {_size(limit)}")
        parts.append(chunk)
    return b"".join(parts)


def check_length(content_length: str | None, limit: int) -> None:
    """Refuse (413) a body whose declared length cannot fit an upload of ``limit`` bytes, before reading it."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit + MULTIPART_SLACK:
        raise UploadProblem(413, f"upload exceeds the limit of {_size(limit)}")


async def read_upload(content_type: str | None, chunks: AsyncIterator[bytes], limit: int) -> Upload:
    """The file of a request with header ``content_type`` and body ``chunks``, at most ``limit`` bytes.

    A raw body must have one of :data:`RAW_TYPES` (or none); a multipart form must hold
    exactly one file part. Problems raise :class:`UploadProblem` (400, 413, 415).
    """
    media, params = parse_options_header(content_type or "application/octet-stream")
    media_type = media.decode("latin-1").lower()
    if media_type == MULTIPART:
        boundary = params.get(b"boundary")
        if not boundary:
            raise UploadProblem(400, "multipart body without a boundary")
        body = await read_limited(chunks, limit + MULTIPART_SLACK)
        upload = await asyncio.to_thread(_one_file, body, boundary)
    elif media_type in RAW_TYPES:
        upload = Upload(await read_limited(chunks, limit))
    else:
        raise UploadProblem(415, f"unsupported content type {media_type!r}: send an image or PDF, raw or as multipart/form-data")
    if len(upload.data) > limit:
        raise UploadProblem(413, f"upload exceeds the limit of {_size(limit)}")
    if not upload.data:
        raise UploadProblem(400, "empty upload")
    return upload


class _Part:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.data = bytearray()


class _TooManyParts(Exception):
    pass


def _one_file(body: bytes, boundary: bytes) -> Upload:
    """The single file part of multipart ``body``."""
    parts: list[_Part] = []
    field = bytearray()
    value = bytearray()

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise _TooManyParts
        parts.append(_Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])

    def on_header_end() -> None:
        if len(parts[-1].headers) >= MAX_PART_HEADERS:
            raise _TooManyParts
        parts[-1].headers[bytes(field).lower()] = bytes(value)
        field.clear()
        value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data.extend(data[start:end])

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
    })
    try:
        parser.write(body)
        parser.finalize()
    except _TooManyParts:
        raise UploadProblem(400, f"multipart body has more than {MAX_PARTS} parts or {MAX_PART_HEADERS} headers "
                                 "in a part: send one file") from None
    except Exception as exc:  # python-multipart reports malformed bodies with several exception types
        raise UploadProblem(400, f"malformed multipart body ({exc})") from None
    files = []
    for part in parts:
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        if b"filename" in options or options.get(b"name") == b"file":
            files.append((_file_name(options.get(b"filename", b"")), part))
    if len(files) != 1:
        raise UploadProblem(400, f"multipart body must hold exactly one file part, found {len(files)}")
    name, part = files[0]
    return Upload(bytes(part.data), name.replace("\\", "/").rsplit("/", 1)[-1] or "upload")


def _file_name(raw: bytes) -> str:
    """A form's file name: UTF-8 as browsers and curl send it, else Latin-1; control characters dropped."""
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        name = raw.decode("latin-1")
    return "".join(char for char in name if char.isprintable())


def _size(count: int) -> str:
    return f"{count / 2**20:g} MiB" if count >= 2**20 else f"{count:,} bytes"
