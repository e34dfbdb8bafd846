"""What the ``ocr`` command says on stderr: nothing by default, notices once where they help, -q and -v."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sample_files import sample
from text_images import REPO, fault_env, ocr_command


def _ocr(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``ocr ARGS`` without any Google credentials (an empty gcloud folder), ``env`` added."""
    clean = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS" and not k.startswith("OCR_")}
    return subprocess.run(ocr_command() + list(args), capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**clean, "CLOUDSDK_CONFIG": str(home), **env})


def test_a_default_run_says_nothing_on_stderr_and_verbose_gives_the_summary(tmp_path: Path) -> None:
    page = str(sample("clean_page.png"))
    quiet = _ocr("scan", page, home=tmp_path)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert quiet.stdout.startswith("Annual Report")
    verbose = _ocr("-v", "scan", page, home=tmp_path)
    assert verbose.stdout == quiet.stdout
    assert verbose.stderr.startswith("ocr: words by engine: ") and verbose.stderr.count("\n") == 1


def test_engines_lists_cloud_as_unavailable_without_credentials(tmp_path: Path) -> None:
    listed = _ocr("engines", home=tmp_path)
    [cloud] = [line for line in listed.stdout.splitlines() if line.startswith("cloud ")]
    assert cloud.split()[1] == "unavailable:" and "no Google Cloud credentials" in cloud
    missing = _ocr("engines", home=tmp_path, OCR_CLOUD_KEY_FILE=str(tmp_path / "key.json"))
    [cloud] = [line for line in missing.stdout.splitlines() if line.startswith("cloud ")]
    assert cloud.endswith(f"credentials file not found: {tmp_path / 'key.json'}")


def test_configured_but_unusable_cloud_credentials_are_noticed_once(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text('{"type": "nonsense"}', encoding="utf-8")
    page = str(sample("receipt.png"))
    done = _ocr("scan", page, page, home=tmp_path, OCR_CLOUD_KEY_FILE=str(key))
    assert done.returncode == 0
    [notice] = done.stderr.splitlines()
    assert notice.startswith("ocr: cloud step skipped: ")
    assert _ocr("-q", "scan", page, home=tmp_path, OCR_CLOUD_KEY_FILE=str(key)).stderr == ""


def test_quiet_keeps_errors(tmp_path: Path) -> None:
    env = fault_env(OCR_ENGINE_PLUGINS="no_such_plugin_module")
    quiet = subprocess.run(ocr_command() + ["-q", "engines"], capture_output=True, text=True, cwd=REPO, env=env,
                           timeout=120)
    assert "engine plugin 'no_such_plugin_module' not loaded" in quiet.stderr
    failed = _ocr("-q", "scan", str(tmp_path / "missing.png"), home=tmp_path)
    assert failed.returncode == 3 and failed.stderr == f"ocr: {tmp_path / 'missing.png'}: no such file\n"
