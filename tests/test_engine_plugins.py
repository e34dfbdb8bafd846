"""Engines plugged in from outside the package with ``OCR_ENGINE_PLUGINS``."""

from __future__ import annotations

import subprocess

from text_images import REPO, fault_env, ocr_command


def test_plugged_in_engines_are_listed_and_a_broken_plugin_is_reported() -> None:
    env = fault_env(OCR_ENGINE_PLUGINS="fault_engine, no_such_plugin_module")
    result = subprocess.run(ocr_command() + ["engines"], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert result.returncode == 0
    assert "fault" in [line.split()[0] for line in result.stdout.splitlines()]
    assert result.stderr.splitlines() == [
        "ocr: engine plugin 'no_such_plugin_module' not loaded: ModuleNotFoundError: No module named 'no_such_plugin_module'"
    ]
