"""Pages per second of ``ocr batch --ray`` on one, then two single-CPU Ray nodes, measured in one run.

    python benchmarks/ray_scaling.py [INPUT_FOLDER] [--engine tesseract] [--formats json,text] [--passes 2]

Default input: ../shared/data/eval/funsd_test/images. The job (every input ``--passes`` times,
under other names) runs first without Ray (two worker processes), for reference; then on a
local Ray cluster (ray.cluster_utils) whose nodes have one CPU each, every node's processes
pinned to a core of their own (so two nodes need two free cores): on the head node alone,
then again after a second node joins. Prints, for each job, pages/s as ``ocr batch`` reports
it (connecting and loading engines included) and the reading rate between the first and the
last input indexed; the ratio of two nodes to one; and whether the Ray jobs' outputs are
byte-identical to the local job's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ray.cluster_utils import Cluster

REPO = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = REPO.parent / "shared" / "data" / "eval" / "funsd_test" / "images"
JOB_FILES = {"index.jsonl", "errors.jsonl", "summary.json", ".lock"}


def ocr() -> list[str]:
    script = Path(sys.executable).with_name("ocr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name not in JOB_FILES}


def passes_of(folder: Path, passes: int, work: Path) -> Path:
    """A folder holding every input of ``folder`` ``passes`` times, as links named pass1/NAME, pass2/NAME..."""
    root = work / "inputs"
    for number in range(1, passes + 1):
        (root / f"pass{number}").mkdir(parents=True)
        for path in sorted(folder.iterdir()):
            if path.is_file():
                (root / f"pass{number}" / path.name).symlink_to(path.resolve())
    return root


def run_job(command: list[str], out: Path) -> dict:
    """Run the job, noting when each index entry appears; its summary, with the reading rate added."""
    job = subprocess.Popen(command + ["--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: list[float] = []
    index = out / "index.jsonl"
    while job.poll() is None:
        lines = index.read_bytes().count(b"\n") if index.exists() else 0
        seen += [time.monotonic()] * (lines - len(seen))
        time.sleep(0.02)
    stderr = job.stderr.read() if job.stderr else ""
    if job.returncode != 0:
        raise SystemExit(f"the job failed (exit {job.returncode}): {stderr.strip()}")
    summary = json.loads((out / "summary.json").read_text())
    entries = [json.loads(line) for line in index.read_text().splitlines()]
    pages_after_first = sum(entry["pages"] for entry in entries[1:])
    summary["reading_rate"] = pages_after_first / (seen[-1] - seen[0]) if len(seen) > 1 and seen[-1] > seen[0] else 0.0
    return summary


def report(job: str, summary: dict) -> None:
    rate = summary["pages"] / summary["seconds"]
    print(f"{job}: {summary['pages']} pages in {summary['seconds']:.1f} s: {rate:.2f} pages/s "
          f"(reading rate {summary['reading_rate']:.2f} pages/s); read per node: "
          + ", ".join(f"{name} {counts['read']}" for name, counts in summary["nodes"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="?", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--engine", default="tesseract")
    parser.add_argument("--formats", default="json,text")
    parser.add_argument("--passes", type=int, default=2, help="Read every input this many times [2].")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("two single-CPU nodes need two cores")
    work = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    inputs = passes_of(args.inputs, args.passes, work)
    command = ocr() + ["batch", str(inputs), "--format", args.formats, "--engine", args.engine]
    print(f"{len(list(inputs.rglob('*.*')))} inputs ({args.inputs}, {args.passes} passes), engine {args.engine}, "
          f"formats {args.formats}")

    report("local, 2 workers", run_job(command + ["--workers", "2"], work / "local"))
    os.sched_setaffinity(0, {cores[0]})  # the nodes' processes inherit the core of the process that starts them
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    os.sched_setaffinity(0, cores)
    try:
        results = {}
        for nodes in (1, 2):
            if nodes == 2:
                os.sched_setaffinity(0, {cores[1]})
                cluster.add_node(num_cpus=1)
                os.sched_setaffinity(0, cores)
                cluster.wait_for_nodes()
            results[nodes] = run_job(command + ["--ray", cluster.address], work / f"{nodes}-node")
            report(f"Ray, {nodes} node(s)", results[nodes])
    finally:
        cluster.shutdown()

    one, two = results[1], results[2]
    print(f"2 nodes / 1 node: {(two['pages'] / two['seconds']) / (one['pages'] / one['seconds']):.2f}x pages/s, "
          f"{two['reading_rate'] / one['reading_rate']:.2f}x reading rate")
    local = outputs(work / "local")
    for nodes in (1, 2):
        print(f"{nodes}-node outputs byte-identical to the local job's: {outputs(work / f'{nodes}-node') == local} "
              f"({len(local)} files)")


if __name__ == "__main__":
    main()
