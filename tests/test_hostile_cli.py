"""``ocr scan`` and ``ocr batch`` against special files, bombs, endless inputs and disks that refuse writes (issue 28)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_inputs import pdf_bomb
from text_images import REPO, encoded, fault_env, ocr_command, text_image

from ocr import cli
from ocr.errors import EXIT_ENGINE, EXIT_INPUT, EXIT_OUTPUT


def ocr(*args: str | Path, env: dict[str, str] | None = None, file_size: int | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``ocr ARGS`` as a process (the ``fault`` engine known); ``file_size`` caps the bytes of any file it writes."""

    def limit_files() -> None:
        if file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return subprocess.run(ocr_command() + [str(arg) for arg in args], capture_output=True, text=True, cwd=REPO,
                          env=fault_env(**(env or {})), preexec_fn=limit_files, timeout=timeout)


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr and "internal error" not in stderr, stderr
    return lines[0]


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "page.png"
    path.write_bytes(encoded(text_image("Hostile world")))
    return path


def test_a_fifo_and_a_device_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for source in (fifo, Path("/dev/zero")):
        started = time.monotonic()
        result = ocr("scan", source, "-e", "tesseract", timeout=60)
        assert result.returncode == EXIT_INPUT
        assert one_line(result.stderr) == f"ocr: {source}: not a regular file (a FIFO, socket or device cannot be read)"
        assert time.monotonic() - started < 30


def test_batch_records_a_fifo_as_failed_and_reads_the_rest(tmp_path: Path, page: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    result = ocr("batch", tmp_path, "--out", tmp_path / "out", "-e", "tesseract", "-f", "text", timeout=120)
    assert result.returncode == EXIT_INPUT, result.stderr
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert [(e["input"], e["exit_code"]) for e in errors] == [("pipe.png", EXIT_INPUT)]
    assert (tmp_path / "out" / "page.png.txt").read_text() == "Hostile world\n"


def test_standard_input_has_a_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "MAX_STDIN_BYTES", 1000)
    result = CliRunner().invoke(cli.main, ["scan", "-", "-e", "tesseract"], input=b"\0" * 5000)
    assert result.exit_code == EXIT_INPUT
    assert "<stdin>: input exceeds the limit of" in result.output


def test_scan_max_pages(tmp_path: Path) -> None:
    pages = [text_image(f"Page {i}") for i in range(3)]
    tiff = tmp_path / "three.tiff"
    pages[0].save(tiff, save_all=True, append_images=pages[1:])
    result = ocr("scan", tiff, "-e", "tesseract", "--max-pages", "2")
    assert result.returncode == EXIT_INPUT
    assert one_line(result.stderr) == f"ocr: {tiff}: 3 pages exceeds the limit of 2 pages"


def test_scan_timeout_gives_up_on_one_input_and_reads_the_next(tmp_path: Path, page: Path) -> None:
    started = time.monotonic()
    result = ocr("scan", page, page, "-e", "fault", "--timeout", "2", env={"OCR_FAULT_DELAY": "4"})
    assert time.monotonic() - started < 60
    assert result.returncode == EXIT_ENGINE
    assert result.stderr.splitlines() == [f"ocr: {page}: reading timed out after 2 s"] * 2


def test_a_pdf_bomb_is_refused_within_1_gb(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(pdf_bomb(768))
    measure = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
               "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    result = subprocess.run([sys.executable, "-c", measure, *ocr_command(), "scan", str(bomb), "-e", "tesseract"],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    code, peak_kib = map(int, result.stdout.split())
    assert code == EXIT_INPUT
    assert one_line(result.stderr) == f"ocr: {bomb}: page 1: the page needs more than 512 MiB of memory to render"
    assert peak_kib < 2**20


def test_batch_on_a_full_disk_records_every_failure_and_exits_5(tmp_path: Path) -> None:
    for name in ("a", "b"):  # each JSON output is larger than the disk's room
        (tmp_path / f"{name}.png").write_bytes(encoded(text_image("Too many words for the disk " * 3)))
    out = tmp_path / "out"
    result = ocr("batch", tmp_path / "a.png", tmp_path / "b.png", "--out", out, "-e", "tesseract",
                 file_size=2048)
    assert result.returncode == EXIT_OUTPUT, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["input"] for e in errors) == ["a.png", "b.png"]
    assert all(e["exit_code"] == EXIT_OUTPUT and "cannot write" in e["error"] and "File too large" in e["error"]
               for e in errors)
    assert json.loads((out / "summary.json").read_text())["failed"] == 2
    assert not list(out.glob("*.json.*")) and not (out / "a.png.json").exists()


def test_batch_where_nothing_can_be_written_exits_5_with_one_line(tmp_path: Path, page: Path) -> None:
    result = ocr("batch", page, "--out", tmp_path / "out", "-e", "tesseract", file_size=0)
    assert result.returncode == EXIT_OUTPUT
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert "cannot write errors.jsonl" in result.stderr and "cannot write summary.json" in result.stderr


def test_batch_into_a_folder_that_cannot_be_made_exits_5(tmp_path: Path, page: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = ocr("batch", page, "--out", blocker / "out", "-e", "tesseract")
    assert result.returncode == EXIT_OUTPUT
    assert one_line(result.stderr) == f"ocr: {blocker / 'out'}: cannot write to the output folder: Not a directory"
