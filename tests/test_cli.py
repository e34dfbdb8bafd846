"""The ``ocr`` command: through click's runner and as a real process, good and bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from PIL import Image
from sample_files import NAMES, sample, truth

import ocr.server.app
from ocr.cli import main
from ocr import __version__
from ocr.document import Document
from ocr.engines import engine_class
from ocr.engines.tesseract import TesseractEngine
from ocr.errors import EXIT_ENGINE, EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from ocr.eval.metrics import cer
from ocr.export import schema

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess[bytes]:
    """``ocr ARGS`` as a separate process (the console script installed beside this Python), ``env`` added."""
    script = Path(sys.executable).with_name("ocr")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ocr.cli"]
    return subprocess.run(command + list(args), input=stdin, capture_output=True, cwd=REPO, timeout=300,
                          env={**os.environ, **env})


def invoke(*args: str, stdin: bytes | None = None):  # noqa: ANN201 (click's Result)
    return CliRunner().invoke(main, list(args), input=stdin)


def one_line_error(stderr: str) -> str:
    """The single stderr line of a failed run (asserting there is exactly one, and no traceback)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got: {stderr!r}"
    assert "Traceback" not in stderr
    return lines[0]


# --- bad inputs --------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _encrypted_pdf() -> bytes:
    """A one-page PDF under the standard security handler whose empty user password does not open it."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -4 >>" % (b"ab" * 32, b"cd" * 32),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 5 /Root 1 0 R /Encrypt 4 0 R /ID [<00112233> <00112233>] >>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _bad_inputs(folder: Path) -> dict[str, tuple[list[str], str]]:
    """Case name → (arguments after ``scan``, a fragment the one-line message must contain)."""
    clean = sample("clean_page.png").read_bytes()
    files = {
        "empty.png": b"",
        "truncated.png": clean[: len(clean) // 2],
        "corrupt.png": clean[:16] + b"\x00garbage" * 40,
        "notes.txt": b"just some text, not an image\n",
        "bomb.png": _png_claiming(50_000, 50_000),
        "locked.pdf": _encrypted_pdf(),
        "broken.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer garbage\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "folder.png").mkdir()
    at = lambda name: str(folder / name)  # noqa: E731
    return {
        "missing": ([at("missing.png")], "no such file"),
        "directory": ([at("folder.png")], "directory"),
        "empty": ([at("empty.png")], "empty"),
        "truncated": ([at("truncated.png")], "truncated.png"),
        "corrupt": ([at("corrupt.png")], "corrupt.png"),
        "unsupported": ([at("notes.txt")], "unsupported format (supported: PNG, JPEG, TIFF, BMP, WebP, GIF, PDF)"),
        "over-limit": ([str(sample("clean_page.png")), "--max-pixels", "10000"], "10,000 pixels"),
        "bomb": ([at("bomb.png")], "100,000,000 pixels"),
        "encrypted-pdf": ([at("locked.pdf")], "encrypted"),
        "broken-pdf": ([at("broken.pdf")], "broken.pdf"),
    }


BAD_CASES = ("missing", "directory", "empty", "truncated", "corrupt", "unsupported", "over-limit", "bomb",
             "encrypted-pdf", "broken-pdf")


@pytest.mark.parametrize("case", BAD_CASES)
def test_each_bad_input_gives_exit_3_and_one_line(case: str, tmp_path: Path) -> None:
    cases = _bad_inputs(tmp_path)
    assert tuple(cases) == BAD_CASES
    args, fragment = cases[case]
    result = invoke("scan", *args, "-e", "tesseract")
    assert result.exit_code == EXIT_INPUT, result.output
    line = one_line_error(result.stderr)
    assert line.startswith("ocr: ") and fragment in line
    assert result.stdout == ""


def test_bad_inputs_as_real_processes(tmp_path: Path) -> None:
    """Every bad input at once: one stderr line each, in order, the readable input still read."""
    cases = _bad_inputs(tmp_path)
    inputs = [args[0] for name, (args, _) in cases.items() if name != "over-limit"]
    result = run("scan", *inputs, str(sample("clean_page.png")), "--format", "json", "-e", "tesseract")
    assert result.returncode == EXIT_INPUT
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == len(inputs)
    for line, path in zip(lines, inputs):
        assert line.startswith(f"ocr: {path}: ")
    documents = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [d["source"] for d in documents] == [str(sample("clean_page.png"))]


def test_usage_errors_exit_2() -> None:
    for args in (["scan"], ["scan", "x.png", "--engine", "nope"], ["scan", "x.png", "--mode", "block"],
                 ["scan", "x.png", "--dpi", "0"], ["scan", "x.png", "--format", "docx"], ["frobnicate"],
                 ["scan", "x.png", "--viz", "out.gif"], ["scan", "x.png", "--output", "/no/such/folder/out.txt"]):
        result = invoke(*args)
        assert result.exit_code == EXIT_USAGE, (args, result.output)
        assert "Traceback" not in result.output


def test_unknown_engine_lists_the_known_ones() -> None:
    result = invoke("scan", str(sample("clean_page.png")), "--engine", "nope")
    assert "tesseract" in result.stderr


def test_engine_failure_exits_4_with_one_line() -> None:
    result = run("scan", str(sample("clean_page.png")), "-e", "tesseract", "--lang", "xyz")
    assert result.returncode == EXIT_ENGINE
    line = one_line_error(result.stderr.decode())
    assert line.startswith("ocr: no Tesseract data for language 'xyz'")


def test_the_default_engine_without_its_models_exits_4_asking_for_ocr_models(tmp_path: Path) -> None:
    """Before `ocr models` has exported them: hybrid is listed as the default but unavailable; scan, batch and
    serve stop at once and say why."""
    no_models = {"OCR_WEIGHTS_DIR": str(tmp_path)}
    listed = run("engines", **no_models)
    assert listed.returncode == EXIT_OK
    [hybrid] = [line for line in listed.stdout.decode().splitlines() if line.startswith("hybrid ")]
    assert hybrid.startswith("hybrid     unavailable (default): model file not found: ")
    assert hybrid.endswith("(run `ocr models`)")
    page = str(sample("clean_page.png"))
    for args, env in ((["scan", page], no_models), (["scan", page], {"OCR_RECOGNIZER": str(tmp_path / "missing.onnx")}),
                      (["batch", page, "--out", str(tmp_path / "out")], no_models), (["serve"], no_models)):
        result = run(*args, **env)
        assert result.returncode == EXIT_ENGINE and result.stdout == b"", args
        line = one_line_error(result.stderr.decode())
        assert line.startswith("ocr: ") and "model file not found" in line and line.endswith("(run `ocr models`)")


def test_an_unexpected_error_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(TesseractEngine, "read", broken)
    result = invoke("scan", str(sample("clean_page.png")), str(sample("receipt.png")), "-e", "tesseract")
    assert result.exit_code == EXIT_INTERNAL
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all("internal error: ZeroDivisionError: boom" in line for line in lines)
    assert "Traceback" not in result.output


# --- good inputs -------------------------------------------------------------------


@pytest.mark.parametrize("engine", [[], ["-e", "tesseract"]], ids=["default", "tesseract"])
def test_scan_prints_the_text_of_the_clean_page(engine: list[str]) -> None:
    """The README's demo (the default engine, hybrid) and the fast Tesseract reading."""
    result = run("scan", "samples/clean_page.png", *engine)
    assert result.returncode == EXIT_OK, result.stderr
    assert cer(result.stdout.decode(), truth("clean_page.png")) <= 0.02


def test_json_of_every_sample_validates_in_input_order() -> None:
    paths = [str(sample(name)) for name in NAMES]
    result = run("scan", *paths, "--format", "json", "-e", "tesseract")
    assert result.returncode == EXIT_OK, result.stderr
    lines = result.stdout.decode().splitlines()
    assert len(lines) == len(paths)
    validator = jsonschema.Draft202012Validator(schema())
    for line, path in zip(lines, paths):
        data = json.loads(line)
        validator.validate(data)
        assert data["source"] == path
        assert Document.from_dict(data).to_dict() == data
    assert [len(json.loads(line)["pages"]) for line in lines] == [1, 1, 1, 1, 2]


def test_stdin_is_read_as_dash() -> None:
    data = sample("clean_page.png").read_bytes()
    result = invoke("scan", "-", "--format", "json", "-e", "tesseract", stdin=data)
    assert result.exit_code == EXIT_OK
    document = json.loads(result.stdout)
    assert document["source"] == "-"
    assert cer(Document.from_dict(document).text, truth("clean_page.png")) <= 0.02
    empty = invoke("scan", "-", "-e", "tesseract", stdin=b"")
    assert empty.exit_code == EXIT_INPUT and one_line_error(empty.stderr) == "ocr: <stdin>: empty input"


def test_several_text_documents_are_separated_by_a_form_feed() -> None:
    result = invoke("scan", str(sample("clean_page.png")), str(sample("two_page.pdf")), "--dpi", "150",
                    "-e", "tesseract")
    assert result.exit_code == EXIT_OK
    parts = result.stdout.split("\f")
    assert len(parts) == 3  # clean page, PDF page 1, PDF page 2
    expected = [truth("clean_page.png"), *truth("two_page.pdf").split("\f")]
    assert all(cer(part, text) <= 0.02 for part, text in zip(parts, expected))


@pytest.mark.parametrize("fmt", ["text", "json", "hocr", "alto", "tsv"])
def test_every_format_is_written(fmt: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("scan", str(sample("scoreboard.png")), "--format", fmt, "--output", str(out), "-e", "tesseract")
    assert result.exit_code == EXIT_OK and result.stdout == ""
    written = out.read_text(encoding="utf-8")
    assert "FINAL" in written and written.endswith("\n")


def test_output_folder_gets_one_file_per_input(tmp_path: Path) -> None:
    copy = tmp_path / "in" / "clean_page.png"
    copy.parent.mkdir()
    copy.write_bytes(sample("clean_page.png").read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    args = [str(sample("clean_page.png")), str(copy), str(sample("scoreboard.png"))]
    result = invoke("scan", *args, "--format", "alto", "--output", str(out), "-e", "tesseract")
    assert result.exit_code == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["clean_page-2.xml", "clean_page.xml", "scoreboard.xml"]
    assert (out / "scoreboard.xml").read_text(encoding="utf-8").startswith("<?xml")


def test_viz_writes_an_image_per_page(tmp_path: Path) -> None:
    single = tmp_path / "boxes.png"
    result = invoke("scan", str(sample("clean_page.png")), "--viz", str(single), "-e", "tesseract")
    assert result.exit_code == EXIT_OK
    with Image.open(single) as image, Image.open(sample("clean_page.png")) as original:
        assert image.size == original.size

    several = tmp_path / "viz.jpg"
    result = invoke("scan", str(sample("receipt.png")), str(sample("two_page.pdf")), "--dpi", "100",
                    "--viz", str(several), "-e", "tesseract")
    assert result.exit_code == EXIT_OK
    assert sorted(p.name for p in tmp_path.glob("viz*")) == ["viz-receipt.jpg", "viz-two_page-p2.jpg", "viz-two_page.jpg"]

    folder = tmp_path / "pages"
    folder.mkdir()
    result = invoke("scan", str(sample("two_page.pdf")), "--dpi", "100", "--viz", str(folder), "-e", "tesseract")
    assert result.exit_code == EXIT_OK
    assert sorted(p.name for p in folder.iterdir()) == ["two_page-p2.png", "two_page.png"]


def test_line_mode_reads_the_image_as_one_line(tmp_path: Path) -> None:
    with Image.open(sample("clean_page.png")) as page:
        page.crop((40, 40, 760, 120)).save(tmp_path / "title.png")
    result = invoke("scan", str(tmp_path / "title.png"), "--mode", "line", "--format", "json", "-e", "tesseract")
    assert result.exit_code == EXIT_OK
    page = Document.from_dict(json.loads(result.stdout)).pages[0]
    assert len(page.blocks) == 1 and len(page.blocks[0].lines) == 1
    assert cer(page.text, "Annual Report of the Riverside Library") <= 0.05


def test_engines_lists_tesseract_as_available_and_hybrid_as_the_default() -> None:
    result = run("engines")
    assert result.returncode == EXIT_OK
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("tesseract  available: Tesseract 5")
    [default] = [line for line in lines if "(default)" in line]
    status = "available" if engine_class("hybrid").availability() is None else "unavailable"
    assert default.startswith(f"hybrid     {status} (default): ")


def test_serve_defaults_to_the_hybrid_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine `ocr serve` gives requests that name none (test_server.py: GET /v1/engines reports it)."""
    defaults: list[str] = []
    monkeypatch.setattr(engine_class("hybrid"), "availability", classmethod(lambda cls: None))  # models or not
    monkeypatch.setattr(ocr.server.app, "serve", lambda settings, host, port: defaults.append(settings.engine))
    for args in ([], ["--engine", "tesseract"]):
        assert invoke("serve", *args).exit_code == EXIT_OK
    assert defaults == ["hybrid", "tesseract"]


def test_version_and_help() -> None:
    assert run("--version").stdout.decode().strip() == f"ocr, version {__version__}"
    help_text = invoke("scan", "--help").output
    for fragment in ("Examples:", "Exit codes:", "JSON Lines", "--viz", "--max-pixels"):
        assert fragment in help_text


def test_profile_times_every_stage_of_a_scan() -> None:
    import re

    done = run("scan", "samples/receipt.png", "samples/two_page.pdf", "--profile", "-e", "hybrid", "-f", "json")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.decode().splitlines()) == 2  # the documents still go to stdout, the table to stderr
    table = done.stderr.decode()
    rows = {m["name"]: (int(m["calls"]), m["items"], float(m["seconds"]))
            for m in re.finditer(r"^(?P<name>\S.*?)\s+(?P<calls>\d+)\s+(?P<items>\d+|-)\s+(?P<seconds>[\d.]+)\s+[\d.]+%$",
                                 table, re.MULTILINE)}
    total = float(re.search(r"^total\s+([\d.]+)\s+100\.0%$", table, re.MULTILINE)[1])
    for stage in ("load engine", "decode input", "detector: model", "line grouping", "recognizer: model",
                  "recognizer: decode and word list", "fallback (Tesseract, cloud)", "layout", "export"):
        assert stage in rows, (stage, table)
    assert rows["decode input"][:2] == (3, "3")  # three pages: the receipt and the PDF's two
    assert rows["export"][:2] == (2, "3")  # two documents of three pages
    assert total >= rows["load engine"][2] + rows["hybrid engine"][2] > 0
    assert rows["hybrid engine"][2] >= rows["detector"][2] + rows["recognizer"][2]
