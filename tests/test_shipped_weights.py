"""Every trained weight file in weights/ is named, with its sha256, by a manifest beside it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ocr.models import PRETRAINED
from ocr.models import file_digest

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def _named_files(node: Any) -> Iterator[tuple[str, str]]:
    """(file, sha256) of every object in a manifest that names a file and its digest."""
    if isinstance(node, dict):
        if isinstance(node.get("file"), str) and isinstance(node.get("sha256"), str):
            yield node["file"], node["sha256"]
        for value in node.values():
            yield from _named_files(value)
    elif isinstance(node, list):
        for value in node:
            yield from _named_files(value)


def test_each_trained_weight_file_matches_the_digest_its_manifest_records() -> None:
    recorded: dict[str, str] = {}
    for manifest in WEIGHTS.glob("*.manifest.json"):
        for name, digest in _named_files(json.loads(manifest.read_text(encoding="utf-8"))):
            assert recorded.setdefault(name, digest) == digest, f"{name}: two manifests disagree"
    exported = {m.onnx_file for m in PRETRAINED}  # made from published weights by `ocr models`, not trained here
    shipped = sorted(p.name for p in WEIGHTS.iterdir() if p.suffix in (".onnx", ".pt") and p.name not in exported)
    assert shipped, "no trained weights in weights/"
    for name in shipped:
        assert name in recorded, f"{name} has no manifest naming it"
        assert file_digest(WEIGHTS / name) == recorded[name], f"{name} differs from its manifest"
