"""Synthetic scene text: words as photographed on signs, shopfronts, packets and billboards.

Where :class:`~ocr.training.synth.Renderer` prints on paper, this one paints in colour and only then
turns the picture gray as the pipeline does, so that text whose colour differs from its ground more
than its brightness does comes out faint, as it reaches the recognizer. It adds what street photographs
show and paper does not: outlined and shadowed letters, display fonts stretched or squeezed, wide
letter spacing, text bent along an arc, strong perspective and rotation, uneven light, cluttered grounds
with the edges of the sign and pieces of the lines above and below, tight crops that clip the letters,
and motion blur; then :func:`~ocr.training.synth.degrade`'s low resolution, noise and JPEG.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .synth import Renderer, _font, cut_around, degrade, turned_quad


def luminance(colour: np.ndarray | Sequence[float]) -> float:
    """Gray level of an RGB colour as ``cv2.COLOR_RGB2GRAY`` computes it."""
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


class SceneRenderer(Renderer):
    """Scene-text crops of a string, cut close around it (``left`` and ``right``, the paper renderer's
    neighbouring words, are not drawn)."""

    def __call__(self, text: str, left: str = "", right: str = "") -> np.ndarray:
        rng = self.rng
        size = rng.randint(28, 64)
        font = _font(self.font_for(text), size)
        fill, outline = self._letters(text, font, size)
        neighbours = self._neighbours(fill.shape, size) if rng.random() < 0.2 else np.zeros_like(fill)
        fill, outline, neighbours = self._warp(fill, outline, neighbours, size=size)
        ink = np.maximum(fill, outline)
        ys, xs = np.nonzero(ink > 0.3)
        if ys.size == 0:  # nothing drawn (a font without these glyphs): print it on paper instead
            return super().__call__(text)
        ground, text_colour, edge_colour = self._palette()
        img = self._ground(fill.shape, ground)
        if rng.random() < 0.25:
            img = self._drop_shadow(img, ink, size)
        img = img * (1 - outline[..., None]) + np.float32(edge_colour) * outline[..., None]
        paint = np.maximum(fill, neighbours)
        img = img * (1 - paint[..., None]) + np.float32(text_colour) * paint[..., None]
        img = self._light(img)
        gray = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
        gray = self._crop_tight(gray, (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1))
        if rng.random() < 0.1:
            gray = self._motion_blur(gray)
        return degrade(gray, self.height, rng, self.np_rng, self.max_width)

    def _letters(self, text: str, font, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Masks (0-1) of the letters' fill and of their outline (empty seven times in ten), spaced and
        stretched at random, on a canvas with room to bend and turn them."""
        rng = self.rng
        spacing = rng.choice((0, 0, 0, rng.randint(1, max(1, size // 4)), -rng.randint(1, max(1, size // 12))))
        stroke = rng.randint(1, max(1, size // 10)) if rng.random() < 0.3 else 0
        x0, y0, x1, y1 = font.getbbox(text, stroke_width=stroke)
        width = int(x1 - x0 + max(spacing, 0) * len(text) + 2 * stroke + 2)
        pad = size
        shape = (int(y1 - y0) + 2 * pad, width + 2 * pad)
        masks = []
        for stroke_width in ((stroke, 0) if stroke else (0,)):
            canvas = Image.new("L", shape[::-1], 0)
            draw = ImageDraw.Draw(canvas)
            x = pad - x0
            for ch in text if spacing else (text,):
                draw.text((x, pad - y0), ch, fill=255, font=font, stroke_width=stroke_width, stroke_fill=255)
                x += font.getlength(ch) + spacing
            masks.append(np.asarray(canvas, np.float32) / 255.0)
        fill = masks[-1]
        outline = np.clip(masks[0] - fill, 0, 1) if stroke else np.zeros_like(fill)
        if rng.random() < 0.4:
            scale = rng.uniform(0.6, 1.5)
            new_w = max(1, round(fill.shape[1] * scale))
            fill, outline = (cv2.resize(m, (new_w, fill.shape[0]), interpolation=cv2.INTER_LINEAR) for m in (fill, outline))
        return fill, outline

    def _neighbours(self, shape: tuple[int, int], size: int) -> np.ndarray:
        """Letters of the sign's lines above or below, whose edges reach into the crop."""
        rng = self.rng
        font = _font(self.font_for("ABC"), max(8, int(size * rng.uniform(0.6, 1.2))))
        words = "".join(rng.choice("ABCDEFGHIJKLMNOPRSTUWabcdeghkmnoprstuy") for _ in range(max(3, shape[1] // max(8, size // 2))))
        canvas = Image.new("L", shape[::-1], 0)
        draw = ImageDraw.Draw(canvas)
        above = rng.random() < 0.5
        gap = size * rng.uniform(0.1, 0.4)
        y = shape[0] / 2 - size * 0.5 - gap - font.size if above else shape[0] / 2 + size * 0.5 + gap
        draw.text((rng.uniform(-size, size), y), words, fill=255, font=font)
        return np.asarray(canvas, np.float32) / 255.0

    def _warp(self, *masks: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
        """The masks bent along an arc (sometimes), then turned and put in perspective (often)."""
        rng = self.rng
        h, w = masks[0].shape
        if rng.random() < 0.15:
            bend = rng.uniform(-0.6, 0.6) * size
            xs = np.linspace(-1, 1, w, dtype=np.float32)
            map_x = np.tile(np.arange(w, dtype=np.float32), (h, 1))
            map_y = np.arange(h, dtype=np.float32)[:, None] + bend * (xs**2 - 0.5)[None, :]
            masks = tuple(cv2.remap(m, map_x, map_y, cv2.INTER_LINEAR, borderValue=0) for m in masks)
        if rng.random() < 0.3:
            return masks
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        jitter = np.float32([[rng.uniform(-1, 1) * 0.12 * h, rng.uniform(-1, 1) * 0.15 * h] for _ in range(4)])
        shear = rng.uniform(-0.3, 0.3) * h if rng.random() < 0.3 else 0.0
        dst = src + jitter + np.float32([[shear, 0], [shear, 0], [0, 0], [0, 0]])
        matrix, out = turned_quad(src, dst, math.radians(rng.uniform(-8, 8)))
        return tuple(cv2.warpPerspective(m, matrix, out, flags=cv2.INTER_LINEAR) for m in masks)

    def _palette(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground, letter and outline colours (RGB); the letters' gray level differs from the ground's by
        a random amount, now and then by little (a colour contrast the gray picture loses)."""
        rng = self.rng
        ground = np.array([rng.uniform(0, 255) for _ in range(3)], np.float32)
        need = rng.uniform(25, 50) if rng.random() < 0.15 else rng.uniform(50, 160)
        letters = ground
        for _ in range(20):
            letters = np.array([rng.uniform(0, 255) for _ in range(3)], np.float32)
            if abs(luminance(letters) - luminance(ground)) >= need:
                break
        else:
            letters = np.float32([255, 255, 255]) if luminance(ground) < 128 else np.float32([0, 0, 0])
        edge = (np.float32([255, 255, 255]) if luminance(letters) < 128 else np.float32([0, 0, 0])
                ) if rng.random() < 0.6 else np.array([rng.uniform(0, 255) for _ in range(3)], np.float32)
        return ground, letters, edge

    def _ground(self, shape: tuple[int, int], colour: np.ndarray) -> np.ndarray:
        """A ground of ``colour``: flat, graded, mottled or a tinted patch of a photograph, sometimes with
        the edge of the sign or a stripe through it."""
        rng, (h, w) = self.rng, shape
        img = np.broadcast_to(colour, (h, w, 3)).astype(np.float32).copy()
        r = rng.random()
        if self.grounds and r < 0.3:
            self._paper = float(luminance(colour))
            patch = self._photo_ground(shape)
            img = img + (patch - self._paper)[..., None]
        elif r < 0.6:
            small = self.np_rng.normal(0, 1, (max(2, h // 12), max(2, w // 12), 3)).astype(np.float32)
            img = img + cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * rng.uniform(5, 35)
        elif r < 0.8:
            ramp = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :, None]
            img = img + ramp * np.float32([rng.uniform(-90, 90) for _ in range(3)])
        if rng.random() < 0.2:
            other = np.float32([rng.uniform(0, 255) for _ in range(3)])
            if rng.random() < 0.5:
                cut = rng.randrange(h)
                rows = slice(0, cut) if rng.random() < 0.5 else slice(cut, h)
                img[rows] = other
            else:
                cut = rng.randrange(w)
                img[:, slice(0, cut) if rng.random() < 0.5 else slice(cut, w)] = other
        return img

    def _drop_shadow(self, img: np.ndarray, ink: np.ndarray, size: int) -> np.ndarray:
        """A soft shadow of the letters, offset down and to one side."""
        rng = self.rng
        dx, dy = rng.randint(-size // 10, size // 10), rng.randint(1, max(2, size // 10))
        shadow = np.roll(np.roll(ink, dy, axis=0), dx, axis=1)
        k = rng.choice((1, 3, 5))
        if k > 1:
            shadow = cv2.GaussianBlur(shadow, (k, k), 0)
        return img * (1 - rng.uniform(0.4, 0.8) * shadow[..., None])

    def _light(self, img: np.ndarray) -> np.ndarray:
        """Uneven light: a bright or dark fall-off across the sign, or a glare spot."""
        rng = self.rng
        h, w = img.shape[:2]
        r = rng.random()
        if r < 0.2:
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            spot = np.exp(-(((ys - cy) / (h * rng.uniform(0.3, 1))) ** 2 + ((xs - cx) / (w * rng.uniform(0.1, 0.4))) ** 2))
            return img + spot[..., None] * rng.uniform(40, 140)
        if r < 0.45:
            ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
            return img * (1 - rng.uniform(0.2, 0.6) * (ramp if rng.random() < 0.5 else 1 - ramp))
        return img

    def _crop_tight(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """Cut around the letters as scene datasets do: close margins, sometimes clipping them."""
        rng = self.rng
        th = box[1] - box[0]

        def margin(_side: bool) -> int:
            return int(th * (rng.uniform(-0.06, 0.02) if rng.random() < 0.15 else rng.uniform(0.0, 0.3)))

        return cut_around(gray, box, margin)

    def _motion_blur(self, gray: np.ndarray) -> np.ndarray:
        rng = self.rng
        k = rng.choice((3, 5, 7))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        centre = (k / 2 - 0.5, k / 2 - 0.5)
        kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, rng.uniform(0, 180), 1.0), (k, k))
        return cv2.filter2D(gray, -1, kernel / max(kernel.sum(), 1e-6))
