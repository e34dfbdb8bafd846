"""Kill an ``ocr batch`` job with SIGKILL halfway, rerun it, and compare with an uninterrupted run.

    python benchmarks/batch_resume.py [INPUT_FOLDER] [--workers N] [--formats json,text] [--engine tesseract]

Default input: ../shared/data/eval/funsd_test/images. Prints whether the resumed job's
outputs equal the uninterrupted run's byte for byte, and, from the index, how many inputs
each run read and whether any input was read to the end twice.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = REPO.parent / "shared" / "data" / "eval" / "funsd_test" / "images"


def ocr() -> list[str]:
    script = Path(sys.executable).with_name("ocr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ocr.cli"]


def outputs(out: Path) -> dict[str, bytes]:
    job = {"index.jsonl", "errors.jsonl", "summary.json", ".lock"}
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name not in job}


def index(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="?", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--formats", default="json,text")
    parser.add_argument("--engine", default="tesseract")
    args = parser.parse_args()
    total = len([p for p in args.inputs.rglob("*") if p.is_file()])
    work = Path(tempfile.mkdtemp(prefix="batch-resume-"))
    command = ocr() + ["batch", str(args.inputs), "--format", args.formats, "--workers", str(args.workers),
                     "--engine", args.engine]
    try:
        started = time.monotonic()
        subprocess.run(command + ["--out", str(work / "reference")], check=True, capture_output=True)
        print(f"engine {args.engine}; uninterrupted run: {total} inputs in {time.monotonic() - started:.1f} s")

        out = work / "resumed"
        job = subprocess.Popen(command + ["--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not (out / "index.jsonl").exists() or len(index(out)) < total // 2:
            if job.poll() is not None:
                raise SystemExit("the job ended before it could be killed")
            time.sleep(0.05)
        workers = psutil.Process(job.pid).children(recursive=True)
        job.send_signal(signal.SIGKILL)
        job.wait()
        psutil.wait_procs(workers, timeout=30)
        killed = index(out)
        partial = [p for p in out.rglob("*.ocr-part")]
        print(f"killed with SIGKILL after {len(killed)} inputs were indexed; "
              f"{len(partial)} temporary file(s) left by the killed writers, {len(outputs(out))} output files")

        resumed = subprocess.run(command + ["--out", str(out)], capture_output=True, text=True)
        summary = json.loads((out / "summary.json").read_text())
        entries = index(out)
        names = [e["input"] for e in entries]
        rerun = [e["input"] for e in entries if e["run"] == summary["run"]]
        print(f"rerun: exit {resumed.returncode}, {summary['read']} read, {summary['skipped']} skipped "
              f"(already done), {summary['failed']} failed")
        print(f"index: {len(entries)} entries for {len(set(names))} inputs; read twice: {len(names) - len(set(names))}; "
              f"read by the rerun and also before the kill: {len(set(rerun) & {e['input'] for e in killed})}")
        same = outputs(out) == outputs(work / "reference")
        print(f"outputs equal to the uninterrupted run's: {same} ({len(outputs(out))} files); "
              f"temporary files left: {len(list(out.rglob('*.ocr-part')))}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
