"""``ocr batch --ray`` on a real local Ray cluster of two nodes: the same outputs as a local job,
a worker node killed mid-job, workers dying while they load the engine, the driver killed mid-job,
and Ray missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_batch import batch, errors, index_lines, make_tree, outputs, summary, temp_files
from text_images import CRASH, HANG, REPO, encoded, fault_env, ocr_command, text_image

from ocr.batch import INDEX
from ocr.errors import EXIT_ENGINE, EXIT_INPUT, EXIT_OK, EXIT_USAGE

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

FAULT_DELAY = "0.6"
"""Seconds the ``fault`` engine sleeps per page on the cluster's nodes, so that jobs last long enough to be hit."""


@pytest.fixture(scope="module")
def start_crashes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder whose files each kill one build of the ``fault`` engine on the cluster (empty between tests)."""
    return tmp_path_factory.mktemp("start_crashes")


@pytest.fixture(scope="module")
def cluster(start_crashes: Path) -> Iterator[Cluster]:
    """A head node and a worker node of one CPU each, whose workers know the ``fault`` engine."""
    with pytest.MonkeyPatch.context() as env:  # the nodes' processes, and so their actors, inherit it
        for name, value in fault_env(OCR_FAULT_DELAY=FAULT_DELAY, OCR_FAULT_START_CRASHES=str(start_crashes)).items():
            env.setenv(name, value)
        # Tell a dead node quickly (the default takes about 15 s).
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 3}})
        try:
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            yield cluster
        finally:
            cluster.shutdown()


def two_nodes(cluster: Cluster) -> None:
    """Bring the cluster back to a head and one worker node (a test may have killed the worker)."""
    if not cluster.worker_nodes:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()


def wait_for_index(out: Path, job: subprocess.Popen[bytes], entries: int) -> None:
    deadline = time.monotonic() + 300
    while not (out / INDEX).exists() or len((out / INDEX).read_text().splitlines()) < entries:
        assert job.poll() is None and time.monotonic() < deadline, "the job ended before it could be hit"
        time.sleep(0.05)


def test_a_two_node_job_writes_what_a_local_job_writes(tmp_path: Path, cluster: Cluster) -> None:
    two_nodes(cluster)
    root = make_tree(tmp_path / "in", {f"page{i}.png": f"Page {i} of the cluster job" for i in range(6)})
    clean = encoded(text_image("Truncated page"))
    (root / "truncated.png").write_bytes(clean[: len(clean) // 2])
    local, remote = tmp_path / "local", tmp_path / "remote"
    formats = ("-f", "json,text,hocr", "-e", "tesseract")
    assert batch(root, "--out", local, *formats, "--workers", "2").returncode == EXIT_INPUT
    result = batch(root, "--out", remote, *formats, "--ray", cluster.address)
    assert result.returncode == EXIT_INPUT, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 2  # the bad input, the summary

    assert outputs(remote) == outputs(local)
    assert len(outputs(remote)) == 6 * 3
    assert errors(remote)["truncated.png"]["error"] == errors(local)["truncated.png"]["error"]
    fields = ("input", "path", "sha256", "pages", "outputs", "settings")
    assert sorted(tuple(e[f] for f in fields) for e in index_lines(remote)) == \
        sorted(tuple(e[f] for f in fields) for e in index_lines(local))
    counts = summary(remote)
    assert (counts["read"], counts["failed"], counts["exit_code"]) == (6, 1, EXIT_INPUT)
    assert len(counts["nodes"]) == 2  # one actor on each node, both reading
    assert sum(node["read"] for node in counts["nodes"].values()) == 6
    assert temp_files(remote) == []

    again = batch(root, "--out", remote, *formats, "--ray", cluster.address)
    assert again.returncode == EXIT_INPUT and summary(remote)["skipped"] == 6 and summary(remote)["read"] == 0


def test_a_worker_node_killed_mid_job_loses_no_input_and_reads_none_twice(tmp_path: Path, cluster: Cluster) -> None:
    two_nodes(cluster)
    words = {f"page{i:02d}.png": f"Page number {i} of the job" for i in range(12)}
    root = make_tree(tmp_path / "in", words)
    out = tmp_path / "out"
    job = subprocess.Popen(ocr_command() + ["batch", str(root), "--out", str(out), "-f", "json,text", "-e", "fault",
                                            "--ray", cluster.address],
                           cwd=REPO, env=fault_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_index(out, job, 3)
    worker = next(iter(cluster.worker_nodes))
    cluster.remove_node(worker, allow_graceful=False)  # SIGKILL to the node's processes, its actor among them
    _, stderr = job.communicate(timeout=300)
    assert job.returncode == EXIT_OK, stderr.decode()

    entries = index_lines(out)
    assert sorted(e["input"] for e in entries) == sorted(words)  # every input, each read to the end once
    assert set(outputs(out)) == {f"{name}.{ext}" for name in words for ext in ("json", "txt")}
    for name, text in words.items():
        assert (out / f"{name}.txt").read_text() == text + "\n"
    nodes = summary(out)["nodes"]
    assert len(nodes) == 2 and sum(node["read"] for node in nodes.values()) == len(words)
    assert min(node["read"] for node in nodes.values()) < len(words) / 2  # the killed node read less


def test_a_crashing_or_hanging_input_fails_only_itself_and_an_unusable_engine_stops_the_job(
        tmp_path: Path, cluster: Cluster) -> None:
    two_nodes(cluster)
    root = tmp_path / "in"
    root.mkdir()
    (root / "crash.png").write_bytes(encoded(text_image("Crash here", corner=CRASH)))
    (root / "hang.png").write_bytes(encoded(text_image("Hang here", corner=HANG)))
    for name in ("fine", "later", "last"):
        (root / f"{name}.png").write_bytes(encoded(text_image(f"{name.title()} page")))
    out = tmp_path / "out"
    result = batch(root, "--out", out, "-e", "fault", "--timeout", "8", "--ray", cluster.address, env=fault_env())
    assert result.returncode == EXIT_ENGINE, result.stderr
    reported = errors(out)
    assert set(reported) == {"crash.png", "hang.png"}
    assert reported["crash.png"]["error"] == "crash.png: the Ray worker reading it died, 3 times"
    assert reported["hang.png"]["error"] == "hang.png: reading timed out after 8 s"
    assert {e["input"] for e in index_lines(out)} == {"fine.png", "later.png", "last.png"}

    result = batch(root, "--out", tmp_path / "other", "-e", "tesseract", "--lang", "xyz", "--ray", cluster.address)
    assert result.returncode == EXIT_ENGINE
    assert result.stderr.splitlines() == [result.stderr.strip()] and "no Tesseract data for language 'xyz'" in result.stderr


def test_workers_dying_while_loading_the_engine_are_replaced_until_it_is_hopeless(
        tmp_path: Path, cluster: Cluster, start_crashes: Path) -> None:
    two_nodes(cluster)
    root = make_tree(tmp_path / "in", {f"page{i}.png": f"Page {i} after a crash" for i in range(3)})
    try:
        for name in ("a", "b"):  # both actors die first
            (start_crashes / name).touch()
        result = batch(root, "--out", tmp_path / "replaced", "-e", "fault", "--ray", cluster.address, env=fault_env())
        assert result.returncode == EXIT_OK, result.stderr
        assert summary(tmp_path / "replaced")["read"] == 3 and not any(start_crashes.iterdir())

        for i in range(20):
            (start_crashes / f"{i:02d}").touch()
        result = batch(root, "--out", tmp_path / "always", "-e", "fault", "--ray", cluster.address, env=fault_env())
        assert result.returncode == EXIT_ENGINE
        # Two actors, each replaced twice: six builds died, and the job said so in one line.
        assert result.stderr.strip() == "ocr: no Ray worker could start: 6 died while loading the engine"
        assert len(list(start_crashes.iterdir())) == 20 - 6
    finally:
        for token in start_crashes.iterdir():
            token.unlink()


def test_driver_sigkill_then_rerun_reads_only_what_was_missing(tmp_path: Path, cluster: Cluster) -> None:
    two_nodes(cluster)
    words = {f"page{i:02d}.png": f"Driver page {i}" for i in range(10)}
    root = make_tree(tmp_path / "in", words)
    out = tmp_path / "out"
    command = ["batch", str(root), "--out", str(out), "-f", "json,text", "-e", "fault", "--ray", cluster.address]
    job = subprocess.Popen(ocr_command() + command, cwd=REPO, env=fault_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_index(out, job, 3)
    job.send_signal(signal.SIGKILL)
    job.wait()
    done_before = {e["input"] for e in index_lines(out)}
    assert 3 <= len(done_before) < len(words)

    rerun = subprocess.run(ocr_command() + command, cwd=REPO, env=fault_env(), capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == EXIT_OK, rerun.stderr
    counts = summary(out)
    assert (counts["skipped"], counts["read"]) == (len(done_before), len(words) - len(done_before))
    entries = index_lines(out)
    assert sorted(e["input"] for e in entries) == sorted(words)
    assert {e["input"] for e in entries if e["run"] == counts["run"]} == set(words) - done_before
    assert temp_files(out) == []


def test_without_ray_installed_ray_is_a_one_line_usage_error(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "in", {"one.png": "One"})
    out = tmp_path / "out"
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OCR_")}
    hide_ray = "import sys; sys.modules['ray'] = None; from ocr.cli import main; main()"  # `import ray` fails
    result = subprocess.run([sys.executable, "-c", hide_ray, "batch", str(root), "--out", str(out), "--ray"],
                            cwd=REPO, capture_output=True, text=True, env=clean,
                            timeout=120)
    assert result.returncode == EXIT_USAGE
    assert result.stderr == "ocr: --ray needs Ray, which is not installed: pip install 'ocr[ray]' (the ray extra)\n"
    assert not out.exists()
