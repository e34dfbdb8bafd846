"""The images and ground truths in samples/, shared by the engine and CLI tests."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
NAMES = ("clean_page.png", "noisy_scan.jpg", "receipt.png", "scoreboard.png", "two_page.pdf")


def sample(name: str) -> Path:
    """The path of sample ``name`` (it must exist)."""
    path = SAMPLES / name
    assert path.is_file(), f"missing sample {path}: run samples/make_samples.py"
    return path


def truth(name: str) -> str:
    """The ground-truth text of sample ``name`` (pages separated by a form feed)."""
    return (SAMPLES / f"{Path(name).stem}.gt.txt").read_text(encoding="utf-8").rstrip("\n")
