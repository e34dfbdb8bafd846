"""Property-based fuzzing (Hypothesis) of the decoders and the upload path with mutated PNG, JPEG, TIFF, GIF,
WebP and PDF files, and of POST /v1/export with spoiled readings: every input gives pages (a rendering) or one
clean error, never another exception. The long run
(10,000 inputs, crashes, hangs and peak memory) is ``benchmarks/fuzz.py``."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import AsyncIterator, Iterator

import httpx
import pytest
from hostile_inputs import FUZZ_FORMATS, multipart, mutate, seed_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich_document import rich_document
from service_process import Service, running_service

from ocr.errors import InputError
from ocr.io import load_pages
from ocr.server.app import ApiError, _export
from ocr.server.uploads import UploadProblem, read_upload

SEEDS = seed_files()
MAX_PIXELS = 4_000_000
FUZZ = settings(max_examples=300, deadline=timedelta(seconds=20), suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)
DOCUMENTED = {200, 400, 408, 413, 415, 422, 503, 504}
"""The statuses the README documents for POST /v1/ocr (500 is a bug)."""


def assert_pages_or_input_error(data: bytes) -> None:
    try:
        pages = load_pages(data, dpi=72, max_pixels=MAX_PIXELS, max_pages=3)
    except InputError as exc:
        message = str(exc)
        assert message.startswith("<bytes>: ") and "\n" not in message and " at 0x" not in message, message
    else:
        assert 1 <= len(pages) <= 3
        for page in pages:
            assert page.dtype.name == "uint8" and page.ndim == 3 and page.shape[2] == 3
            assert 0 < page.shape[0] * page.shape[1] <= MAX_PIXELS


@FUZZ
@given(fmt=st.sampled_from(FUZZ_FORMATS), rng=st.randoms(use_true_random=False))
def test_decoders_give_pages_or_one_input_error(fmt: str, rng: random.Random) -> None:
    assert_pages_or_input_error(mutate(SEEDS[fmt], rng))


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


@FUZZ
@given(fmt=st.sampled_from(FUZZ_FORMATS), rng=st.randoms(use_true_random=False), name=st.text(max_size=40),
       chunk=st.integers(1, 4096), frame=st.booleans())
def test_uploads_give_a_file_or_one_client_error(fmt: str, rng: random.Random, name: str, chunk: int,
                                                  frame: bool) -> None:
    body, media = multipart(mutate(SEEDS[fmt], rng), name)
    if frame:  # the form's own framing damaged too
        body = mutate(body, rng)
    try:
        upload = asyncio.run(read_upload(media, _chunks(body, chunk), 200_000))
    except UploadProblem as exc:
        assert exc.status in (400, 413) and "\n" not in str(exc)
    else:
        assert "/" not in upload.name and upload.name.isprintable()
        if upload.data:
            assert_pages_or_input_error(upload.data)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("fuzz"), "--workers", "2", "--engine", "tesseract",
                         "--max-upload-mb", "1", "--max-pixels", str(MAX_PIXELS), "--max-pages", "3",
                         "--timeout", "60") as running:
        yield running


@settings(max_examples=40, deadline=timedelta(seconds=60), suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture], derandomize=True)
@given(fmt=st.sampled_from(FUZZ_FORMATS), rng=st.randoms(use_true_random=False), as_form=st.booleans())
def test_the_service_answers_mutated_uploads_with_documented_statuses(service: Service, fmt: str,
                                                                      rng: random.Random, as_form: bool) -> None:
    data = mutate(SEEDS[fmt], rng)
    body, media = multipart(data, f"fuzz.{fmt.lower()}") if as_form else (data, "application/octet-stream")
    response = httpx.post(f"{service.url}/v1/ocr", content=body, headers={"Content-Type": media}, timeout=120)
    assert response.status_code in DOCUMENTED - {503, 504}, response.text
    if response.status_code != 200:
        detail = response.json()["detail"]
        assert " at 0x" not in detail and "Traceback" not in detail
    assert "Traceback" not in Path(service.log).read_text()


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=4), max_leaves=12)


def _spoil(tree: object, rng: random.Random, value: object) -> object:
    """``tree`` with one randomly chosen node (at any depth) replaced by ``value`` or removed."""
    if isinstance(tree, (dict, list)) and tree and rng.random() < 0.8:
        keys = list(tree) if isinstance(tree, dict) else list(range(len(tree)))
        key = rng.choice(keys)
        copy = dict(tree) if isinstance(tree, dict) else list(tree)
        if rng.random() < 0.2:
            del copy[key]  # type: ignore[arg-type]
        else:
            copy[key] = _spoil(copy[key], rng, value)  # type: ignore[index]
        return copy
    return value


@FUZZ
@given(rng=st.randoms(use_true_random=False), value=JSON_VALUES, fmt=st.sampled_from(["text", "json", "hocr", "alto", "tsv"]))
def test_export_gives_a_rendering_or_one_client_error(rng: random.Random, value: object, fmt: str) -> None:
    """A reading sent back to POST /v1/export with any one part spoiled: rendered, or refused with 400 or 422."""
    spoiled = json.dumps(_spoil(rich_document().to_dict(), rng, value)).encode()
    try:
        assert isinstance(_export(spoiled, fmt), str)
    except ApiError as exc:
        assert exc.status in (400, 422) and "\n" not in exc.detail and len(exc.detail) < 200, exc.detail
