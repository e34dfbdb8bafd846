"""``ocr serve`` as a real process on 127.0.0.1, for the service and web page tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
from text_images import REPO, fault_env, ocr_command


@dataclass(frozen=True)
class Service:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    tmp: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_service(folder: Path, *args: str, ready_timeout: float = 180.0) -> Iterator[Service]:
    """``ocr serve ARGS`` (the ``fault`` engine known, TMPDIR a private folder) until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp"
    tmp.mkdir()
    log = folder / "server.log"
    port = free_port()
    with log.open("wb") as stream:
        process = subprocess.Popen(ocr_command() + ["serve", "--host", "127.0.0.1", "--port", str(port), *args],
                                   cwd=REPO, env=fault_env(TMPDIR=str(tmp)), stdout=stream, stderr=stream)
    service = Service(f"http://127.0.0.1:{port}", process, log, tmp)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            assert process.poll() is None, f"the server stopped: {service.log_text()}"
            assert time.monotonic() < deadline, f"the server was not ready in time: {service.log_text()}"
            try:
                if httpx.get(f"{service.url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, 9)
            process.wait()
