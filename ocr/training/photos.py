"""Photographs from Debian packages as a page set for the detector's teacher (``ocr train photos``).

The student detector learned documents; on street photographs it found words in foliage, facades and
railings (precision 20 % on ICDAR 2015, the teacher 85 %). Photographs without labels teach it what is
not text: the teacher's maps of them are almost empty, and where a photograph does hold text (signs,
labels, the OpenCV scene-text samples) the teacher marks it. Nothing here is downloaded at run time: the
photographs come from packages extracted with ``apt-get download PKG && dpkg -x PKG.deb ROOT`` (or
installed, root ``/``); :data:`PACKAGES` lists where each one keeps its pictures.

The set is written as two manifest sets, ``photos_train`` and ``photos_val`` (the last :data:`VAL_COUNT`
of a seeded shuffle), each with ``manifest.jsonl`` (image paths only) and ``SOURCE.md``, sharing ``images/``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

LONGEST = 1600
"""Photographs are scaled down to at most this many pixels on their longer side (the teacher reads
them at a 1280 canvas)."""

SMALLEST = 200
"""Pictures with a shorter side under this are skipped (icons, logos)."""

MIN_BYTES = 20_000
"""Smaller files are drawings or icons more often than photographs."""

VAL_COUNT = 20
"""Pictures kept out of training, to check the student against the teacher on."""

PER_NAME = 3
"""At most this many pictures whose names differ only in trailing digits (stereo pairs, video frames)."""


@dataclass(frozen=True)
class Package:
    """A Debian package with pictures: where they are below the root, and its licence."""

    name: str
    globs: tuple[str, ...]
    licence: str
    one_per_folder: bool = False
    """Keep one picture per folder (a wallpaper shipped at several resolutions)."""


PACKAGES: tuple[Package, ...] = (
    Package("opencv-doc", ("usr/share/doc/opencv-doc/examples/data/*", "usr/share/doc/opencv-doc/examples/text/*"),
            "Apache-2.0, BSD-2/3-Clause and others per file (debian/copyright)"),
    Package("ukui-wallpapers, lomiri-wallpapers, lomiri-wallpapers-20.04", ("usr/share/backgrounds/*",),
            "CC-BY-SA-3.0 (ukui); CC-BY-4.0, CC-BY-SA-3.0/4.0, CC0-1.0 (lomiri; debian/copyright)"),
    Package("mate-backgrounds", ("usr/share/backgrounds/mate/nature/*", "usr/share/backgrounds/mate/desktop/*"),
            "GPL-2+, CC-BY-SA-4.0 (debian/copyright)"),
    Package("plasma-workspace-wallpapers", ("usr/share/wallpapers/*/contents/images/*",),
            "GPL-2+ (debian/copyright)", one_per_folder=True),
    Package("mypaint-data-extras", ("usr/share/mypaint/backgrounds/*/*",), "CC-BY-3.0, CC0-1.0, GPL-2+ (debian/copyright)"),
)
"""In this order (the pictures' numbers follow it)."""

SKIP = frozenset({
    "digits.png", "chessboard.png", "LinuxLogo.jpg", "WindowsLogo.jpg", "opencv-logo.png", "opencv-logo-white.png",
    "gradient.png", "mask.png", "ml.png", "HappyFish.jpg", "blox.jpg", "pic1.png", "pic3.png", "pic5.png", "pic6.png",
    "ellipses.jpg", "detect_blob.png", "cards.png", "notes.png", "aloeGT.png", "Blender_Suzanne2.jpg",
})
"""OpenCV samples that are drawings, masks or ground truth rather than pictures."""

SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def find_pictures(root: Path) -> list[tuple[Path, Package]]:
    """The pictures of :data:`PACKAGES` present below ``root``, near duplicates left out."""
    found: list[tuple[Path, Package]] = []
    seen: Counter[str] = Counter()
    for package in PACKAGES:
        for pattern in package.globs:
            for path in sorted(root.glob(pattern)):
                if (path.suffix.lower() not in SUFFIXES or path.name in SKIP
                        or not path.is_file() or path.stat().st_size < MIN_BYTES):
                    continue
                key = str(path.parent.parent) if package.one_per_folder else path.stem.rstrip("0123456789_")
                seen[key] += 1
                if seen[key] <= (1 if package.one_per_folder else PER_NAME):
                    found.append((path, package))
    return found


def build_photo_sets(root: Path, out: Path, val_count: int = VAL_COUNT, seed: int = 0) -> tuple[int, int]:
    """Write ``out/photos_train`` and ``out/photos_val`` (the last ``val_count`` pictures of a seeded shuffle)
    from the pictures below ``root``, into one shared ``out/images``; returns the two sets' sizes."""
    pictures = find_pictures(root)
    if not pictures:
        raise FileNotFoundError(f"no pictures of {', '.join(p.name for p in PACKAGES)} below {root}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (path, package) in enumerate(pictures):
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        if min(image.size) < SMALLEST:
            continue
        scale = min(1.0, LONGEST / max(image.size))
        if scale < 1.0:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        name = f"images/p{index:03d}_{path.stem[:30].replace(' ', '_')}.jpg"
        image.save(out / name, quality=92)
        rows.append({"image": name, "text": "", "package": package.name, "source": str(path.relative_to(root))})
    random.Random(seed).shuffle(rows)
    parts = {"photos_train": rows[:-val_count], "photos_val": rows[-val_count:]}
    for name, part in parts.items():
        folder = out / name
        folder.mkdir(exist_ok=True)
        if not (folder / "images").exists():
            (folder / "images").symlink_to("../images")
        (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        used = sorted({r["package"] for r in part})
        licences = "; ".join(f"{p.name}: {p.licence}" for p in PACKAGES if p.name in used)
        (folder / "SOURCE.md").write_text(
            f"# {name}\n\nPhotographs and wallpapers from Debian packages ({', '.join(used)}), written by "
            f"`ocr train photos` (seed {seed}, {len(part)} pictures, no labels: the CRAFT teacher labels them).\n\n"
            f"licence: {licences}\n", encoding="utf-8")
    return len(parts["photos_train"]), len(parts["photos_val"])


def licence_of(folder: Path) -> str:
    """The ``licence:`` line of a set's SOURCE.md (empty when it has none)."""
    source = folder / "SOURCE.md"
    if source.is_file():
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("licence:"):
                return line.split(":", 1)[1].strip()
    return ""
