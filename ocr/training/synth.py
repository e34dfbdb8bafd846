"""Synthetic text images: render a string with a random installed font, then degrade it.

Degradations: paper colours, gradients and textures (and, when given, patches of photographs: scene text's
cluttered grounds), light-on-dark, shadows, form rules,
neighbouring words at the crop's edges, slight rotation and perspective, blur, noise, low
resolution, JPEG, tight or loose crops.
Output is a grayscale crop scaled to the recognizer's input height.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .. import datasets

FONT_ROOTS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
_NOTO_LATIN = ("NotoSans-", "NotoSerif-", "NotoSansMono-", "NotoSansDisplay-", "NotoSerifDisplay-")
_PROBE = "AaEeGgMmQqWw09€£é"
PHOTO_GROUND = 0.2
"""Share of crops drawn on a patch of a photograph, when the renderer has some (:func:`load_grounds`)."""
GROUND_SIDE = 640
"""Longer side, in pixels, photographs are kept at for grounds."""


def _latin_font(path: Path) -> bool:
    name = path.name
    if "noto" in str(path).lower():
        return name.startswith(_NOTO_LATIN)
    return True


@lru_cache(maxsize=None)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _has_glyphs(path: str, text: str) -> bool:
    """Whether the font draws every character of ``text`` differently from its missing-glyph box."""
    font = _font(path, 24)
    missing = np.asarray(font.getmask("\ue000"))
    return all(not np.array_equal(np.asarray(font.getmask(c)), missing) for c in set(text) if not c.isspace())


def find_fonts(roots: tuple[str, ...] = FONT_ROOTS) -> list[str]:
    """Installed TrueType/OpenType fonts that cover basic Latin, digits and common symbols."""
    paths = sorted(p for root in roots for p in Path(root).rglob("*") if p.suffix.lower() in (".ttf", ".otf"))
    return [str(p) for p in paths if _latin_font(p) and _has_glyphs(str(p), _PROBE)]


def load_grounds(folder: Path) -> list[np.ndarray]:
    """The photographs of ``folder`` (a set of ``ocr train photos``, or any folder of pictures) as gray images
    of at most :data:`GROUND_SIDE` pixels a side, for :class:`Renderer` to draw text on."""
    paths = ([sample.image for sample in datasets.iter_samples(folder)] if (folder / "manifest.jsonl").is_file()
             else sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")))
    grounds = []
    for path in paths:
        with Image.open(path) as opened:
            gray = opened.convert("L")
        gray.thumbnail((GROUND_SIDE, GROUND_SIDE))
        grounds.append(np.asarray(gray))
    if not grounds:
        raise FileNotFoundError(f"no photographs in {folder}")
    return grounds


class Renderer:
    """Renders strings into degraded grayscale crops of height ``height``."""

    def __init__(self, fonts: list[str], height: int, seed: int = 0, max_width: int | None = None,
                 grounds: Sequence[np.ndarray] = ()) -> None:
        """``grounds``: gray photographs; :data:`PHOTO_GROUND` of the crops are drawn on a patch of one."""
        if not fonts:
            raise ValueError("no usable fonts found")
        self.fonts = fonts
        self.grounds = grounds
        self.height = height
        self.max_width = max_width
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self._coverage: dict[str, set[str]] = {}

    def font_for(self, text: str) -> str:
        """A random font that draws every character of ``text`` (falls back to any font after a few tries)."""
        for _ in range(8):
            path = self.rng.choice(self.fonts)
            covered = self._coverage.setdefault(path, set())
            need = set(text) - covered - {" "}
            if not need or _has_glyphs(path, "".join(need)):
                covered.update(need)
                return path
        return path

    def __call__(self, text: str, left: str = "", right: str = "") -> np.ndarray:
        """A degraded grayscale uint8 image of ``text``, ``height`` rows high. ``left`` and ``right`` are
        neighbouring words printed a space away: the crop is cut around ``text``, so their ink may
        show at its edges, as in word boxes cut from a page."""
        rng = self.rng
        size = rng.randint(18, 44)
        font = _font(self.font_for(left + text + right), size)
        ink, paper = self._colours()
        prefix = f"{left} " if left else ""
        full = prefix + text + (f" {right}" if right else "")
        x0, y0, x1, y1 = font.getbbox(full)
        spacing = rng.choice((0, 0, 0, 0, 1, 2, -1)) if rng.random() < 0.3 else 0
        tw = x1 - x0 + max(spacing, 0) * len(full) + 2
        th = max(y1 - y0, 1)
        pad_x, pad_y = int(size * rng.uniform(0.1, 0.6)), int(size * rng.uniform(0.1, 0.5))
        canvas = Image.new("L", (tw + 2 * pad_x, th + 2 * pad_y), 0)
        draw = ImageDraw.Draw(canvas)
        if spacing:
            x = pad_x - x0
            for ch in full:
                draw.text((x, pad_y - y0), ch, fill=255, font=font)
                x += font.getlength(ch) + spacing
        else:
            draw.text((pad_x - x0, pad_y - y0), full, fill=255, font=font)
        start = pad_x - x0 + font.getlength(prefix) + spacing * len(prefix)
        span = (start, start + font.getlength(text) + spacing * len(text))
        mask = np.asarray(canvas, dtype=np.float32) / 255.0
        if rng.random() < 0.15:
            k = 2 if rng.random() < 0.7 else 3
            op = cv2.dilate if rng.random() < 0.5 else cv2.erode
            mask = op(mask, np.ones((k, k), np.uint8))
        baseline = pad_y - y0 + font.getmetrics()[0]
        rules = self._rules(mask.shape, span, (pad_y, baseline, pad_y + th), size)
        matrix, out_size = self._geometry(mask.shape)
        if matrix is not None:
            mask = cv2.warpPerspective(mask, matrix, out_size, flags=cv2.INTER_LINEAR)
            rules = cv2.warpPerspective(rules, matrix, out_size, flags=cv2.INTER_LINEAR)
            corners = np.float32([[[span[0], 0], [span[1], 0], [span[0], canvas.height], [span[1], canvas.height]]])
            xs = cv2.perspectiveTransform(corners, matrix)[0, :, 0]
            span = (float(xs.min()), float(xs.max()))
        ink_mask = np.maximum(mask, rules)
        img = self._background(mask.shape) * (1 - ink_mask) + ink * ink_mask
        img = self._shadow(img)
        img = self._crop(img, mask, span, loose=bool(left or right))
        return degrade(img, self.height, self.rng, self.np_rng, self.max_width)

    def _colours(self) -> tuple[float, float]:
        rng = self.rng
        paper = rng.uniform(150, 255)
        ink = rng.uniform(0, min(110, paper - 60))
        if rng.random() < 0.12:
            ink, paper = 255 - ink * 0.5, rng.uniform(0, 90)
        self._paper = paper
        return ink, paper

    def _background(self, shape: tuple[int, int]) -> np.ndarray:
        rng, h, w = self.rng, shape[0], shape[1]
        if self.grounds and rng.random() < PHOTO_GROUND:
            return self._photo_ground(shape)
        bg = np.full(shape, self._paper, np.float32)
        r = rng.random()
        if r < 0.3:
            ramp = np.linspace(0, 1, w if rng.random() < 0.6 else h, dtype=np.float32)
            grad = ramp[None, :] if ramp.size == w else ramp[:, None]
            bg = bg + (grad - 0.5) * rng.uniform(-70, 70)
        elif r < 0.5:
            small = self.np_rng.normal(0, 1, (max(2, h // 8), max(2, w // 8))).astype(np.float32)
            bg = bg + cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * rng.uniform(5, 25)
        elif r < 0.6:
            bg = bg + self.np_rng.normal(0, rng.uniform(3, 12), shape).astype(np.float32)
        if rng.random() < 0.05:
            y = rng.randrange(h)
            bg[y : y + rng.randint(1, 2)] -= rng.uniform(40, 120)
        return bg

    def _photo_ground(self, shape: tuple[int, int]) -> np.ndarray:
        """A patch of a photograph, zoomed in up to threefold, its gray levels spread around the paper's
        level by a random contrast (the ink stays at least as distinct as on paper on average)."""
        rng, (h, w) = self.rng, shape
        photo = rng.choice(self.grounds)
        zoom = max(h / photo.shape[0], w / photo.shape[1]) * rng.uniform(1.0, 3.0)
        ph, pw = max(1, min(photo.shape[0], round(h / zoom))), max(1, min(photo.shape[1], round(w / zoom)))
        y, x = rng.randint(0, photo.shape[0] - ph), rng.randint(0, photo.shape[1] - pw)
        patch = cv2.resize(photo[y : y + ph, x : x + pw], (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        return (patch - patch.mean()) / (patch.std() + 1e-3) * rng.uniform(8, 40) + self._paper

    def _rules(self, shape: tuple[int, int], span: tuple[float, float], rows: tuple[int, int, int], size: int
               ) -> np.ndarray:
        """Form rules near the text (``rows``: its top, baseline and bottom): an underline, a line
        above, or a cell border beside it (often only partly inside the final crop). An underline
        runs under the baseline (through descenders) or under the whole text, across the crop or
        ending near the text's ends, where its end must not read as a full stop."""
        rng = self.rng
        rules = np.zeros(shape, np.float32)
        h, w = shape
        width = max(1, size // rng.choice((10, 14, 18)))
        top, baseline, bottom = rows
        if rng.random() < 0.15:
            y = min(h - 1, (baseline if rng.random() < 0.5 else bottom) + rng.randint(1, max(1, size // 6)))
            start = 0 if rng.random() < 0.5 else max(0, int(span[0] - size * rng.uniform(-0.1, 0.5)))
            end = w if rng.random() < 0.5 else min(w, int(span[1] + size * rng.uniform(-0.1, 0.5)))
            rules[y : y + width, start:end] = 1.0
        if rng.random() < 0.05:
            y = max(0, top - rng.randint(1, max(1, size // 5)))
            rules[max(0, y - width) : y] = 1.0
        if rng.random() < 0.08:
            gap = rng.randint(1, max(1, size // 3))
            x = int(span[0]) - gap if rng.random() < 0.5 else int(span[1]) + gap
            x = min(max(x, 0), w - width)
            rules[:, x : x + width] = 1.0
        return rules

    def _geometry(self, shape: tuple[int, int]) -> tuple[np.ndarray | None, tuple[int, int]]:
        """A random slight perspective, shear and rotation (half the time none): its matrix and output size."""
        rng = self.rng
        h, w = shape
        if rng.random() < 0.5:
            return None, (w, h)
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        shear = rng.uniform(-0.25, 0.25) * h if rng.random() < 0.3 else 0.0
        jitter = h * 0.08
        dst = src + np.float32([[shear + rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter)] if i < 2 else
                                [rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter)] for i in range(4)])
        return turned_quad(src, dst, np.deg2rad(rng.uniform(-3, 3) if rng.random() < 0.7 else 0.0))

    def _shadow(self, img: np.ndarray) -> np.ndarray:
        rng = self.rng
        if rng.random() > 0.12:
            return img
        h, w = img.shape
        x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
        edge = rng.uniform(-0.8, 0.8)
        shade = 1 - rng.uniform(0.2, 0.5) / (1 + np.exp(-(x - edge) * rng.uniform(5, 30)))
        return img * shade

    def _crop(self, img: np.ndarray, mask: np.ndarray, span: tuple[float, float], loose: bool) -> np.ndarray:
        """Cut around the text's ink within the columns ``span``, with random margins (``loose``: wider
        side margins, reaching into the neighbours)."""
        rng = self.rng
        lo = max(0, int(span[0]))
        ys, xs = np.nonzero(mask[:, lo : max(lo + 1, int(np.ceil(span[1])))] > 0.2)
        if ys.size == 0:
            return img
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, lo + xs.min(), lo + xs.max() + 1
        th = y1 - y0

        def margin(side: bool) -> int:
            if side and loose:
                return int(th * rng.uniform(0.0, 0.6))
            return int(th * (rng.uniform(-0.04, 0.08) if rng.random() < 0.3 else rng.uniform(0.05, 0.4)))

        return cut_around(img, (y0, y1, x0, x1), margin)


def cut_around(img: np.ndarray, box: tuple[int, int, int, int], margin: Callable[[bool], int]) -> np.ndarray:
    """``img`` cut to ``box`` (y0, y1, x0, x1) widened on each edge by ``margin(side)`` pixels (``side``: a left
    or right edge; drawn top, bottom, left, right), a negative margin clipping the ink. A clip keeps at least
    half of the box along each axis: a "1" or a "." is narrower than the text is high."""
    y0, y1, x0, x1 = box
    h, w = img.shape[:2]

    def cut(lo: int, hi: int, size: int, side: bool) -> slice:
        start, end = max(0, lo - margin(side)), min(size, hi + margin(side))
        return slice(start, end) if end - start >= max(1, (hi - lo) // 2) else slice(lo, hi)

    return img[cut(y0, y1, h, False), cut(x0, x1, w, True)]


def turned_quad(src: np.ndarray, dst: np.ndarray, angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The perspective matrix taking the corners ``src`` (4×2, a w×h image's) to ``dst`` turned by ``angle``
    radians about the image's centre, shifted to the origin; and the output size that holds them."""
    w, h = src[2]
    c, s = np.cos(angle), np.sin(angle)
    centre = np.float32([w / 2, h / 2])
    dst = (dst - centre) @ np.float32([[c, -s], [s, c]]).T + centre
    dst -= dst.min(axis=0)
    out_size = (int(np.ceil(dst[:, 0].max())) + 1, int(np.ceil(dst[:, 1].max())) + 1)
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32)), out_size


def degrade(img: np.ndarray, height: int, rng: random.Random, np_rng: np.random.Generator,
            max_width: int | None = None) -> np.ndarray:
    """Scale a float or uint8 grayscale crop to ``height`` rows with random low resolution (and
    binarization), blur, width jitter, noise and JPEG; widths beyond ``max_width`` are squeezed to it."""
    img = img.astype(np.float32)
    h, w = img.shape
    if rng.random() < 0.45:
        # Low resolution (a 100 dpi scan: words 7-20 px high), sometimes bitonal like a fax.
        small = rng.randint(7, 22)
        if small < h:
            img = cv2.resize(img, (max(1, round(w * small / h)), small), interpolation=cv2.INTER_AREA)
            h, w = img.shape
            if rng.random() < 0.35:
                lo, hi = float(img.min()), float(img.max())
                threshold = lo + (hi - lo) * rng.uniform(0.35, 0.65)
                img = np.where(img > threshold, hi, lo).astype(np.float32)
    if rng.random() < 0.25:
        k = rng.choice((3, 3, 5))
        img = cv2.GaussianBlur(img, (k, 1 if rng.random() < 0.2 else k), rng.uniform(0.3, 1.2))
    new_w = max(1, round(w * height / h * rng.uniform(0.85, 1.15)))
    if max_width:
        new_w = min(new_w, max_width)
    img = cv2.resize(img, (new_w, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_CUBIC)
    if rng.random() < 0.3:
        img = img + np_rng.normal(0, rng.uniform(2, 14), img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(15, 80)])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img
