"""Pages per second of ``ocr batch --ray`` on one, then two single-CPU Ray nodes, measured in one run.

    python benchmarks/ray_scaling.py [INPUT_FOLDER] [--engine tesseract] [--formats json,text] [--passes 2]
    python benchmarks/ray_scaling.py --faults [INPUT_FOLDER] [--engine tesseract] [--formats json,text]

Default input: ../shared/data/eval/funsd_test/images. The job (every input ``--passes`` times,
under other names) runs first without Ray (two worker processes), for reference; then on a
local Ray cluster (ray.cluster_utils) whose nodes have one CPU each, every node's processes
pinned to a core of their own (so two nodes need two free cores): on the head node alone,
then again after a second node joins. Prints, for each job, pages/s as ``ocr batch`` reports
it (connecting and loading engines included) and the reading rate between the first and the
last input indexed; the ratio of two nodes to one; and whether the Ray jobs' outputs are
byte-identical to the local job's.

With ``--faults`` it measures no speed but checks, on a two-node cluster, a job whose worker
node is killed (SIGKILL) mid-job, and a job whose driver is killed mid-job and then rerun:
exit codes, inputs indexed (none lost, none twice), what the rerun read, and whether the
outputs are byte-identical to the local job's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from batch_resume import DEFAULT_INPUT, index, ocr, outputs
from ray.cluster_utils import Cluster


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
    path = out / "index.jsonl"
    while job.poll() is None:
        lines = path.read_bytes().count(b"\n") if path.exists() else 0
        seen += [time.monotonic()] * (lines - len(seen))
        time.sleep(0.02)
    stderr = job.stderr.read() if job.stderr else ""
    if job.returncode != 0:
        raise SystemExit(f"the job failed (exit {job.returncode}): {stderr.strip()}")
    summary = json.loads((out / "summary.json").read_text())
    pages_after_first = sum(entry["pages"] for entry in index(out)[1:])
    summary["reading_rate"] = pages_after_first / (seen[-1] - seen[0]) if len(seen) > 1 and seen[-1] > seen[0] else 0.0
    return summary


def per_node(summary: dict) -> str:
    return ", ".join(f"{node} {counts['read']}" for node, counts in summary["nodes"].items())


def report(job: str, summary: dict) -> None:
    rate = summary["pages"] / summary["seconds"]
    print(f"{job}: {summary['pages']} pages in {summary['seconds']:.1f} s: {rate:.2f} pages/s "
          f"(reading rate {summary['reading_rate']:.2f} pages/s); read per node: {per_node(summary)}")


def scaling(command: list[str], work: Path) -> None:
    """The job on one single-CPU node, then on two, each node pinned to a core of its own."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("two single-CPU nodes need two cores")
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


def wait_for_index(job: subprocess.Popen[str], out: Path, entries: int) -> None:
    while not (out / "index.jsonl").exists() or len(index(out)) < entries:
        if job.poll() is not None:
            raise SystemExit("the job ended before it could be hit")
        time.sleep(0.05)


def faults(command: list[str], work: Path, total: int) -> None:
    """A worker node killed mid-job, then the driver killed mid-job and the job rerun, on two nodes."""
    reference = outputs(work / "local")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        job_command = command + ["--ray", cluster.address]

        out = work / "node-killed"
        job = subprocess.Popen(job_command + ["--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_index(job, out, total // 4)
        before = len(index(out))
        killed = time.monotonic()
        cluster.remove_node(next(iter(cluster.worker_nodes)), allow_graceful=False)
        job.wait()
        names = [entry["input"] for entry in index(out)]
        summary = json.loads((out / "summary.json").read_text())
        print(f"worker node killed (SIGKILL) after {before} inputs were indexed; the job went on for "
              f"{time.monotonic() - killed:.1f} s and exited {job.returncode}; index: {len(names)} entries for "
              f"{len(set(names))} of {total} inputs, read twice: {len(names) - len(set(names))}; "
              f"read per node: {per_node(summary)}")
        print(f"outputs byte-identical to the local job's: {outputs(out) == reference}")

        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        out = work / "driver-killed"
        job = subprocess.Popen(job_command + ["--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_index(job, out, total // 2)
        job.send_signal(signal.SIGKILL)
        job.wait()
        done = {entry["input"] for entry in index(out)}
        rerun = subprocess.run(job_command + ["--out", str(out)], capture_output=True, text=True)
        summary = json.loads((out / "summary.json").read_text())
        names = [entry["input"] for entry in index(out)]
        again = {entry["input"] for entry in index(out) if entry["run"] == summary["run"]}
        print(f"driver killed (SIGKILL) after {len(done)} inputs were indexed; rerun exited {rerun.returncode}, "
              f"read {summary['read']}, skipped {summary['skipped']}, read exactly the missing ones: "
              f"{again == set(names) - done}; index: {len(names)} entries for {len(set(names))} of {total} inputs, "
              f"read twice: {len(names) - len(set(names))}")
        print(f"outputs byte-identical to the local job's: {outputs(out) == reference}; temporary files left: "
              f"{len(list(out.rglob('*.ocr-part')))}")
    finally:
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="?", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--engine", default="tesseract")
    parser.add_argument("--formats", default="json,text")
    parser.add_argument("--passes", type=int, default=2, help="Read every input this many times [2].")
    parser.add_argument("--faults", action="store_true", help="Check faults instead of measuring speed (one pass).")
    args = parser.parse_args()
    passes = 1 if args.faults else args.passes
    work = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    try:
        inputs = passes_of(args.inputs, passes, work)
        total = len(list(inputs.rglob("*.*")))
        command = ocr() + ["batch", str(inputs), "--format", args.formats, "--engine", args.engine]
        print(f"{total} inputs ({args.inputs}, {passes} passes), engine {args.engine}, formats {args.formats}")
        report("local, 2 workers", run_job(command + ["--workers", "2"], work / "local"))
        if args.faults:
            faults(command, work, total)
        else:
            scaling(command, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
