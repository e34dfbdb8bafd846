"""``ocr batch``: mirrored outputs, resuming, bad inputs, crashes and a SIGKILL in the middle of a job."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import time
from pathlib import Path

import psutil
from text_images import CRASH, HANG, REPO, encoded, fault_env, ocr_command, text_image

from ocr.batch import INDEX, BatchSettings, Progress, collect_inputs, output_name, read_index
from ocr.config import ScanOptions
from ocr.document import Document
from ocr.errors import EXIT_ENGINE, EXIT_INPUT, EXIT_OK, EXIT_USAGE
from ocr.io.files import TEMP_SUFFIX

WORDS = {
    "alpha.png": "Alpha invoice 1042",
    "sub/beta.jpg": "Beta receipt total",
    "sub/deeper/gamma.png": "Gamma delivery note",
    "delta.pdf": "Delta contract copy",
}


def make_tree(root: Path, words: dict[str, str] = WORDS) -> Path:
    """A folder of small text images (and a one-page PDF) named as in ``words``."""
    for name, text in words.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = {".png": "PNG", ".jpg": "JPEG", ".pdf": "PDF", ".tif": "TIFF"}[path.suffix]
        path.write_bytes(encoded(text_image(text), fmt))
    return root


def batch(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ocr_command() + ["batch", *map(str, args)], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=600)


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def errors(out: Path) -> dict[str, dict]:
    lines = (out / "errors.jsonl").read_text().splitlines()
    return {entry["input"]: entry for entry in map(json.loads, lines)}


def index_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / INDEX).read_text().splitlines()]


def reading(path: Path) -> bytes:
    """A file's bytes; a JSON document's without its metadata (which names the engine and models that read it)."""
    if path.suffix != ".json":
        return path.read_bytes()
    document = json.loads(path.read_bytes())
    document.pop("metadata", None)
    return json.dumps(document).encode()


def outputs(out: Path) -> dict[str, bytes]:
    """Every output file under ``out`` (not the job's own files, nor one being written under its temporary name,
    which a killed job may leave and the next run removes) and its :func:`reading`."""
    job = {"index.jsonl", "errors.jsonl", "summary.json", ".lock"}
    return {str(p.relative_to(out)): reading(p) for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in job and not p.name.endswith(TEMP_SUFFIX)}


def temp_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


# --- collecting inputs ------------------------------------------------------------------


def test_inputs_are_named_relative_to_their_common_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in")
    (root / "notes.txt").write_text("not an input")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.png").write_bytes(b"")
    out = root / "out"  # an output folder inside the inputs is never searched
    out.mkdir()
    (out / "old.png").write_bytes(b"")
    inputs, failures = collect_inputs([str(root)], exclude=out)
    assert failures == []
    assert sorted(item.name for item in inputs) == sorted(WORDS)
    inputs, _ = collect_inputs([str(root / "sub"), str(root / "alpha.png"), str(root / "sub" / "beta.jpg")])
    assert [item.name for item in inputs] == ["sub/beta.jpg", "sub/deeper/gamma.png", "alpha.png"]  # no duplicate
    inputs, failures = collect_inputs([f"{root}/**/*.png", f"{root}/*.tif", str(root / "nope.png")], exclude=out)
    assert sorted(item.name for item in inputs) == ["alpha.png", "sub/deeper/gamma.png"]
    assert [f.error for f in failures] == [f"{root}/*.tif: no file matches", f"{root / 'nope.png'}: no such file"]
    assert output_name("sub/beta.jpg", "alto") == "sub/beta.jpg.xml"


def test_settings_key_changes_with_anything_that_changes_outputs() -> None:
    base = BatchSettings(ScanOptions(), ("json",))
    assert base.key() == BatchSettings(ScanOptions(), ("json", "json")).key()
    assert base.key() != BatchSettings(ScanOptions(dpi=200), ("json",)).key()
    assert base.key() != BatchSettings(ScanOptions(), ("json", "text")).key()
    assert BatchSettings(formats=("text", "json")).key() == BatchSettings(formats=("json", "text")).key()


def test_progress_line_counts_files_pages_rate_eta_and_errors() -> None:
    progress = Progress(open(os.devnull, "w"), total=10)
    progress.started -= 4.0  # 4 s ago
    line = progress.line(files=2, pages=3, errors=1)
    assert " 2/10 files  3 pages  0.75 pages/s  ETA 0:16  1 errors" in line
    assert line.startswith("[")


# --- jobs ------------------------------------------------------------------------------


def test_batch_mirrors_the_tree_in_every_format_then_resumes(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in")
    out = tmp_path / "out"
    first = batch(root, "--out", out, "--format", "json,text", "-f", "hocr", "--workers", "2", "-e", "tesseract")
    assert first.returncode == EXIT_OK, first.stderr
    assert "Traceback" not in first.stderr
    for name, text in WORDS.items():
        document = Document.from_dict(json.loads((out / f"{name}.json").read_text()))
        assert document.source == name
        assert document.text == text
        assert (out / f"{name}.txt").read_text() == text + "\n"
        assert "ocrx_word" in (out / f"{name}.hocr").read_text()
    assert set(outputs(out)) == {f"{name}.{ext}" for name in WORDS for ext in ("json", "txt", "hocr")}
    entries = index_lines(out)
    assert sorted(e["input"] for e in entries) == sorted(WORDS)
    assert all(len(e["sha256"]) == 64 and e["pages"] == 1 for e in entries)
    assert summary(out)["read"] == 4 and summary(out)["failed"] == 0
    assert (out / "errors.jsonl").read_text() == ""
    assert temp_files(out) == []

    # Rerun: nothing to do. Changed content: that input only. Other settings or --force: everything.
    again = batch(root, "--out", out, "--format", "text,json,hocr", "-e", "tesseract")
    assert again.returncode == EXIT_OK and summary(out)["skipped"] == 4 and summary(out)["read"] == 0
    (root / "alpha.png").write_bytes(encoded(text_image("Alpha invoice 2042")))
    changed = batch(root, "--out", out, "-f", "json,text,hocr", "-e", "tesseract")
    assert changed.returncode == EXIT_OK and summary(out)["read"] == 1
    assert (out / "alpha.png.txt").read_text() == "Alpha invoice 2042\n"
    (out / "sub/beta.jpg.hocr").unlink()  # a missing output makes its input due again
    assert batch(root, "--out", out, "-f", "json,text,hocr", "-e", "tesseract").returncode == EXIT_OK
    assert summary(out)["read"] == 1
    assert batch(root, "--out", out, "-f", "json", "-e", "tesseract").returncode == EXIT_OK
    assert summary(out)["read"] == 4
    assert batch(root, "--out", out, "-f", "json", "--force", "-e", "tesseract").returncode == EXIT_OK
    assert summary(out)["read"] == 4
    assert len(index_lines(out)) == 4 + 1 + 1 + 4 + 4
    assert read_index(out)["alpha.png"]["outputs"] == ["alpha.png.json"]


def test_bad_inputs_are_reported_and_the_job_goes_on(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"good.png": "Good page here"})
    clean = encoded(text_image("Truncated page"))
    (root / "empty.jpg").write_bytes(b"")
    (root / "truncated.png").write_bytes(clean[: len(clean) // 2])
    (root / "text.png").write_bytes(b"plain text, not an image\n")
    (root / "locked.pdf").write_bytes(b"%PDF-1.4\n" + b"garbage" * 20)
    out = tmp_path / "out"
    result = batch(root, tmp_path / "missing.png", f"{tmp_path}/*.tiff", "--out", out, "-e", "tesseract")
    assert result.returncode == EXIT_INPUT
    assert "Traceback" not in result.stderr
    reported = errors(out)
    assert set(reported) == {"empty.jpg", "truncated.png", "text.png", "locked.pdf",
                             str(tmp_path / "missing.png"), f"{tmp_path}/*.tiff"}
    assert "empty file" in reported["empty.jpg"]["error"]
    assert "unsupported format" in reported["text.png"]["error"]
    assert "no such file" in reported[str(tmp_path / "missing.png")]["error"]
    assert all(entry["exit_code"] == EXIT_INPUT for entry in reported.values())
    for entry in reported.values():  # one stderr line per failure
        assert f"ocr: {entry['error']}" in result.stderr.splitlines()
    assert (out / "good.png.json").is_file()
    assert set(outputs(out)) == {"good.png.json"}
    counts = summary(out)
    assert (counts["inputs"], counts["read"], counts["failed"], counts["exit_code"]) == (5, 1, 6, EXIT_INPUT)


def test_a_crashing_or_hanging_engine_fails_only_its_input(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "crash.png").write_bytes(encoded(text_image("Crash here", corner=CRASH)))
    (root / "hang.png").write_bytes(encoded(text_image("Hang here", corner=HANG)))
    (root / "fine.png").write_bytes(encoded(text_image("Fine page")))
    (root / "later.png").write_bytes(encoded(text_image("Later page")))
    out = tmp_path / "out"
    result = batch(root, "--out", out, "--engine", "fault", "--workers", "1", "--timeout", "10", env=fault_env())
    assert result.returncode == EXIT_ENGINE, result.stderr
    reported = errors(out)
    assert set(reported) == {"crash.png", "hang.png"}
    assert "worker process died (exit code 70)" in reported["crash.png"]["error"]
    assert "timed out after 10 s" in reported["hang.png"]["error"]
    assert {e["input"] for e in index_lines(out)} == {"fine.png", "later.png"}


def test_an_unusable_engine_stops_the_job_at_once(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"one.png": "One"})
    result = batch(root, "--out", tmp_path / "out", "-e", "tesseract", "--lang", "xyz")
    assert result.returncode == EXIT_ENGINE
    assert result.stderr.splitlines() == [result.stderr.strip()] and "no Tesseract data for language 'xyz'" in result.stderr


def test_one_job_per_output_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"one.png": "One"})
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = batch(root, "--out", out, "-e", "tesseract")
    assert result.returncode == EXIT_USAGE
    assert "another batch job is writing to this folder" in result.stderr


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"one.png": "One line", "two.png": "Two lines"})
    leader, follower = pty.openpty()
    process = subprocess.Popen(ocr_command() + ["batch", str(root), "--out", str(tmp_path / "out"), "-e", "tesseract"],
                               stdout=subprocess.DEVNULL, stderr=follower, cwd=REPO)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the job ended
            break
        if not chunk:
            break
        screen += chunk
    assert process.wait(timeout=300) == EXIT_OK
    os.close(leader)
    text = screen.decode()
    assert "\r\x1b[2K[" in text
    assert " 2/2 files  2 pages  " in text and " pages/s  ETA 0:00  0 errors" in text
    assert "batch: 2 inputs: 2 read (2 pages" in text


def test_sigkill_mid_job_loses_nothing_finished_and_redoes_nothing_finished(tmp_path: Path) -> None:
    words = {f"page{i:02d}.png": f"Page number {i} of the job" for i in range(8)}
    root = make_tree(tmp_path / "in", words)
    reference = tmp_path / "reference"
    assert batch(root, "--out", reference, "-f", "json,text", "--workers", "2", "-e", "tesseract").returncode == EXIT_OK

    out = tmp_path / "out"
    command = ocr_command() + ["batch", str(root), "--out", str(out), "-f", "json,text", "--workers", "2",
                               "--engine", "fault"]
    job = subprocess.Popen(command, cwd=REPO, env=fault_env(OCR_FAULT_DELAY="0.7"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (out / INDEX).exists() or len((out / INDEX).read_text().splitlines()) < 3:
        assert job.poll() is None and time.monotonic() < deadline, "the job ended before it could be killed"
        time.sleep(0.05)
    workers = psutil.Process(job.pid).children(recursive=True)
    job.send_signal(signal.SIGKILL)
    job.wait()
    psutil.wait_procs(workers, timeout=30)  # they notice their parent is gone and stop

    done_before = {e["input"]: e for e in index_lines(out)}
    assert 3 <= len(done_before) < len(words)
    for name in done_before:  # what finished is complete...
        assert reading(out / f"{name}.json") == reading(reference / f"{name}.json")
    for name, data in outputs(out).items():  # ...and no partial file sits under a final name
        assert data == reading(reference / name)

    rerun = batch(root, "--out", out, "-f", "json,text", "--workers", "2", "--engine", "fault", env=fault_env())
    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert summary(out)["skipped"] == len(done_before)
    assert summary(out)["read"] == len(words) - len(done_before)
    entries = index_lines(out)
    assert sorted(e["input"] for e in entries) == sorted(words)  # each input read to the end exactly once
    assert {e["input"] for e in entries if e["run"] == summary(out)["run"]} == set(words) - set(done_before)
    assert outputs(out) == outputs(reference)
    assert temp_files(out) == []
