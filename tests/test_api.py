"""The Python API: ``ocr.read`` and ``ocr.Reader`` on every kind of input, and what they leave alone."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sample_files import sample
from text_images import REPO, encoded, text_image

import ocr
from ocr.engines.neural import NeuralEngine
from ocr.io import load_pages

needs_models = pytest.mark.skipif(NeuralEngine.availability() is not None, reason="neural models missing")

WORDS = "Harbor 4217 invoice"


@pytest.fixture(scope="module")
def reader() -> ocr.Reader:
    return ocr.Reader(engine="neural", threads=1)


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return np.asarray(text_image(WORDS))


def _as(rgb: np.ndarray, kind: str) -> object:
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    return {
        "rgb uint8": rgb,
        "rgb float 0-1": rgb.astype(np.float32) / 255,
        "rgb float 0-255": rgb.astype(np.float64),
        "gray uint8": gray,
        "gray H×W×1": gray[:, :, None],
        "gray uint16": gray.astype(np.uint16) * 257,
        "rgba uint8": np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
        "non-contiguous": np.asfortranarray(rgb),
        "PIL image": Image.fromarray(rgb),
        "PIL gray image": Image.fromarray(gray),
        "bytes": encoded(Image.fromarray(rgb)),
        "bytearray": bytearray(encoded(Image.fromarray(rgb))),
        "file object": io.BytesIO(encoded(Image.fromarray(rgb), "TIFF")),
    }[kind]


KINDS = ["rgb uint8", "rgb float 0-1", "rgb float 0-255", "gray uint8", "gray H×W×1", "gray uint16", "rgba uint8",
         "non-contiguous", "PIL image", "PIL gray image", "bytes", "bytearray", "file object"]


@needs_models
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_input_reads_the_same_words(reader: ocr.Reader, rgb: np.ndarray, kind: str) -> None:
    document = reader.read(_as(rgb, kind))  # type: ignore[arg-type]
    assert isinstance(document, ocr.Document)
    assert document.text == WORDS


@needs_models
def test_transparent_pixels_are_white_and_a_list_gives_one_document_each(reader: ocr.Reader, rgb: np.ndarray,
                                                                         tmp_path: Path) -> None:
    rgba = np.dstack([rgb, np.where(rgb[:, :, 0] < 128, 255, 0).astype(np.uint8)])
    rgba[rgba[:, :, 3] == 0, :3] = 0  # black where fully transparent: only the alpha says it is background
    path = tmp_path / "words.png"
    text_image(WORDS).save(path)
    documents = reader.read([rgba, path, str(path)])
    assert [d.text for d in documents] == [WORDS] * 3
    assert [d.source for d in documents] == ["<array>", str(path), str(path)]


@needs_models
def test_read_in_one_call_takes_the_engine_and_its_options(rgb: np.ndarray) -> None:
    assert ocr.read(rgb, engine="neural", mode="line", threads=1).text == WORDS
    assert ocr.read(sample("two_page.pdf"), engine="tesseract", dpi=150).text.count("\f") == 1


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        (42, TypeError, "cannot read a int: give a path, bytes, a binary file, a PIL image or a numpy array"),
        ({"page": 1}, TypeError, "cannot read a dict"),
        ([[b"x"]], TypeError, "a list of sources may not hold lists"),
        (io.StringIO("text"), TypeError, "open it with 'rb'"),
        (np.zeros((4, 4, 2), np.uint8), ocr.InputError, r"<array>: expected an H×W gray.*got shape \(4, 4, 2\)"),
        (np.zeros((0, 5), np.uint8), ocr.InputError, "holds no pixels"),
        (np.full((4, 4), np.nan), ocr.InputError, "NaN or infinite"),
        (np.full((4, 4), -1.0), ocr.InputError, "negative sample values"),
        (np.full((4, 4), 300.0), ocr.InputError, "sample values up to 300"),
        (np.zeros((4, 4), complex), ocr.InputError, "unsupported array type complex128"),
        (b"", ocr.InputError, "<bytes>: empty input"),
        ("no/such/page.png", ocr.InputError, "no/such/page.png: no such file"),
    ],
)
def test_what_is_no_input_gets_a_clear_error(source: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        ocr.read(source, engine="tesseract")  # type: ignore[call-overload]


def test_unknown_options_and_engines_are_refused_before_any_model_loads() -> None:
    with pytest.raises(TypeError, match="unknown option 'colour'"):
        ocr.Reader(colour="red")
    with pytest.raises(ocr.UsageError, match="unknown engine 'nope'"):
        ocr.Reader(engine="nope")


def test_an_array_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(ocr.InputError, match="exceeds the limit of 100 pixels"):
        load_pages(np.zeros((20, 20), np.uint8), max_pixels=100)


def test_decoding_changes_no_process_wide_state() -> None:
    before_limit, before_filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    big = Image.new("1", (12_000, 9_000))  # 108 Mpx: over PIL's own warning threshold, under ours when raised
    data = encoded(big)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [page] = load_pages(data, max_pixels=120_000_000)
    assert page.shape == (9_000, 12_000, 3)
    assert not caught
    assert (Image.MAX_IMAGE_PIXELS, warnings.filters) == (before_limit, before_filters)


def test_the_package_is_typed_and_logs_only_through_its_own_loggers() -> None:
    assert (Path(ocr.__file__).parent / "py.typed").is_file()
    handlers = logging.getLogger("ocr").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_importing_the_library_and_reading_print_nothing(tmp_path: Path) -> None:
    code = ("import ocr, numpy; from PIL import Image; "
            f"print(ocr.read(numpy.asarray(Image.open({str(sample('clean_page.png'))!r}))).text.splitlines()[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={"PYTHONPATH": str(REPO), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "Annual Report of the Riverside Library\n")
