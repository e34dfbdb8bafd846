"""Whole-file writes: a reader (or a resumed job) sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".ocr-part"
"""Ends the name of every file being written; leftovers of a killed writer can be swept by it."""


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` for the block to write; renamed over ``path`` when the
    block succeeds, deleted when it fails (writers that append a suffix should be given a file object)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Put ``data`` (text is UTF-8) at ``path`` all at once, synced to disk before the rename."""
    with replacing(path) as temp, temp.open("xb") as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        stream.flush()
        os.fsync(stream.fileno())
