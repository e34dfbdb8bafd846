"""The photograph set for the detector's teacher: gathered from package folders, split, licensed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from ocr.cli import main
from ocr.training import detector_export
from ocr.training.photos import PACKAGES, VAL_COUNT, build_photo_sets, licence_of


def _picture(path: Path, size: tuple[int, int], seed: int) -> None:
    """A noisy JPEG (noise keeps it above the size floor for drawings and icons)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=95)


def _package_root(root: Path) -> None:
    for i in range(24):
        _picture(root / f"usr/share/backgrounds/mate/nature/meadow_{chr(97 + i)}.jpg", (400, 300), i)
    for i in range(4):  # one wallpaper at four resolutions
        _picture(root / f"usr/share/wallpapers/Flow/contents/images/{1000 + 200 * i}x800.jpg", (500, 400), 100 + i)
    for i in range(5):  # video frames: names that differ only in their digits
        _picture(root / f"usr/share/doc/opencv-doc/examples/data/left{i:02d}.jpg", (320, 240), 200 + i)
    _picture(root / "usr/share/doc/opencv-doc/examples/data/digits.png", (320, 240), 300)  # not a photograph
    _picture(root / "usr/share/doc/opencv-doc/examples/data/strip.jpg", (2000, 150), 301)  # too narrow
    _picture(root / "usr/share/mypaint/backgrounds/paper/huge.jpg", (3200, 2400), 302)


def test_photographs_are_gathered_once_each_and_split(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "photos"
    _package_root(root)
    train_count, val_count = build_photo_sets(root, out)
    # 24 meadows + 1 wallpaper + 3 of the 5 frames + the large paper; not digits.png, not the strip
    assert (train_count, val_count) == (29 - VAL_COUNT, VAL_COUNT)
    rows = [json.loads(line) for name in ("photos_train", "photos_val")
            for line in (out / name / "manifest.jsonl").read_text().splitlines()]
    sources = [r["source"] for r in rows]
    assert len(set(sources)) == len(sources) == 29
    assert not any("digits" in s or "strip" in s for s in sources)
    assert sum("wallpapers/Flow" in s for s in sources) == 1 and sum("/left" in s for s in sources) == 3
    huge = next(r for r in rows if r["source"].endswith("huge.jpg"))
    with Image.open(out / "photos_train" / huge["image"]) as image:  # both sets see the shared images/
        assert image.size == (1600, 1200)
    # the same packages give the same sets
    again = tmp_path / "again"
    build_photo_sets(root, again)
    assert (again / "photos_val" / "manifest.jsonl").read_text() == (out / "photos_val" / "manifest.jsonl").read_text()


def test_a_model_trained_on_the_photographs_names_their_licences(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "photos"
    _package_root(root)
    build_photo_sets(root, out)
    licence = licence_of(out / "photos_train")
    mate = next(p for p in PACKAGES if p.name == "mate-backgrounds")
    assert mate.licence in licence and "opencv-doc" in licence
    entry = detector_export._set_entry(str(out / "photos_train"))
    assert entry["licence"] == licence and "held_out" in entry
    assert detector_export._set_entry("/data/train/funsd_train")["licence"].startswith("FUNSD")


def test_the_command_builds_the_sets_or_says_in_one_line_why_not(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _package_root(root)
    built = CliRunner().invoke(main, ["train", "photos", "--root", str(root), "--out", str(tmp_path / "photos")])
    assert built.exit_code == 0 and f"{29 - VAL_COUNT} training and {VAL_COUNT} validation" in built.output
    (tmp_path / "empty").mkdir()
    empty = CliRunner().invoke(main, ["train", "photos", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "x")])
    assert empty.exit_code == 3 and empty.output.count("\n") == 1 and "no pictures" in empty.output
