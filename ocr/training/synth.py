"""Synthetic text images: render a string with a random installed font, then degrade it.

Degradations: paper colours, gradients and textures, light-on-dark, shadows, underlines,
slight rotation and perspective, blur, noise, low resolution, JPEG, tight or loose crops.
Output is a grayscale crop scaled to the recognizer's input height.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_ROOTS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
_NOTO_LATIN = ("NotoSans-", "NotoSerif-", "NotoSansMono-", "NotoSansDisplay-", "NotoSerifDisplay-")
_PROBE = "AaEeGgMmQqWw09€£é"


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


class Renderer:
    """Renders strings into degraded grayscale crops of height ``height``."""

    def __init__(self, fonts: list[str], height: int, seed: int = 0, max_width: int | None = None) -> None:
        if not fonts:
            raise ValueError("no usable fonts found")
        self.fonts = fonts
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

    def __call__(self, text: str) -> np.ndarray:
        """A degraded grayscale uint8 image of ``text``, ``height`` rows high."""
        rng = self.rng
        size = rng.randint(18, 44)
        font = _font(self.font_for(text), size)
        ink, paper = self._colours()
        x0, y0, x1, y1 = font.getbbox(text)
        spacing = rng.choice((0, 0, 0, 0, 1, 2, -1)) if rng.random() < 0.3 else 0
        tw = x1 - x0 + max(spacing, 0) * len(text) + 2
        th = max(y1 - y0, 1)
        pad_x, pad_y = int(size * rng.uniform(0.1, 0.6)), int(size * rng.uniform(0.1, 0.5))
        canvas = Image.new("L", (tw + 2 * pad_x, th + 2 * pad_y), 0)
        draw = ImageDraw.Draw(canvas)
        if spacing:
            x = pad_x - x0
            for ch in text:
                draw.text((x, pad_y - y0), ch, fill=255, font=font)
                x += font.getlength(ch) + spacing
        else:
            draw.text((pad_x - x0, pad_y - y0), text, fill=255, font=font)
        if rng.random() < 0.07:
            base = pad_y + th + max(1, size // 12)
            draw.line((pad_x, base, pad_x + tw, base), fill=255, width=max(1, size // 16))
        mask = np.asarray(canvas, dtype=np.float32) / 255.0
        if rng.random() < 0.15:
            k = 2 if rng.random() < 0.7 else 3
            op = cv2.dilate if rng.random() < 0.5 else cv2.erode
            mask = op(mask, np.ones((k, k), np.uint8))
        mask = self._geometry(mask)
        img = self._background(mask.shape) * (1 - mask) + ink * mask
        img = self._shadow(img)
        img = self._crop(img, mask)
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

    def _geometry(self, mask: np.ndarray) -> np.ndarray:
        rng = self.rng
        h, w = mask.shape
        if rng.random() < 0.5:
            return mask
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        shear = rng.uniform(-0.25, 0.25) * h if rng.random() < 0.3 else 0.0
        jitter = h * 0.08
        dst = src + np.float32([[shear + rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter)] if i < 2 else
                                [rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter)] for i in range(4)])
        angle = np.deg2rad(rng.uniform(-3, 3) if rng.random() < 0.7 else 0.0)
        c, s = np.cos(angle), np.sin(angle)
        centre = np.float32([w / 2, h / 2])
        dst = (dst - centre) @ np.float32([[c, -s], [s, c]]).T + centre
        dst -= dst.min(axis=0)
        out_w, out_h = int(np.ceil(dst[:, 0].max())) + 1, int(np.ceil(dst[:, 1].max())) + 1
        matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        return cv2.warpPerspective(mask, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)

    def _shadow(self, img: np.ndarray) -> np.ndarray:
        rng = self.rng
        if rng.random() > 0.12:
            return img
        h, w = img.shape
        x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
        edge = rng.uniform(-0.8, 0.8)
        shade = 1 - rng.uniform(0.2, 0.5) / (1 + np.exp(-(x - edge) * rng.uniform(5, 30)))
        return img * shade

    def _crop(self, img: np.ndarray, mask: np.ndarray) -> np.ndarray:
        rng = self.rng
        ys, xs = np.nonzero(mask > 0.2)
        if ys.size == 0:
            return img
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        th = y1 - y0
        def margin() -> int:
            return int(th * (rng.uniform(-0.04, 0.08) if rng.random() < 0.3 else rng.uniform(0.05, 0.4)))
        h, w = img.shape
        return img[max(0, y0 - margin()) : min(h, y1 + margin()), max(0, x0 - margin()) : min(w, x1 + margin())]


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
