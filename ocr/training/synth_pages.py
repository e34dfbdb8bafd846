"""Synthetic pages with exact CRAFT targets: documents, receipts, forms, tables, UI screens, scenes.

Text is drawn with PIL; every character's ink box comes from the font's metrics, so the region map
(a 2-D Gaussian warped into each character's quadrilateral) and the affinity map (a Gaussian warped
between the centres of neighbouring characters of one word, as in the CRAFT paper) are exact. The
page may then be rotated and put in perspective (targets follow), and degraded (blur, noise, JPEG,
shadows, low resolution, bilevel fax scans: targets unchanged).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .detector_data import MapSample

GAUSSIAN_SIGMA = 0.32
"""Standard deviation of the character Gaussian, in units of the box side (edge midpoints ≈ 0.3, matched to the teacher)."""

_TEMPLATE_SIZE = 48


def gaussian_template(size: int = _TEMPLATE_SIZE, sigma: float = GAUSSIAN_SIGMA) -> np.ndarray:
    """A ``size``×``size`` isotropic Gaussian peaking at 1 in the centre (float32)."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    return np.exp(-(axis[None, :] ** 2 + axis[:, None] ** 2) / (2 * sigma**2)).astype(np.float32)


_TEMPLATE = gaussian_template()
_TEMPLATE_CORNERS = np.array(
    [[0, 0], [_TEMPLATE_SIZE, 0], [_TEMPLATE_SIZE, _TEMPLATE_SIZE], [0, _TEMPLATE_SIZE]], dtype=np.float32
)


def paint_gaussian(target: np.ndarray, quad: np.ndarray) -> None:
    """Warp the Gaussian template into ``quad`` (4×2, clockwise from top-left) and max it into ``target``."""
    h, w = target.shape
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    matrix = cv2.getPerspectiveTransform(_TEMPLATE_CORNERS, (quad - [x0, y0]).astype(np.float32))
    patch = cv2.warpPerspective(_TEMPLATE, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR)
    np.maximum(target[y0:y1, x0:x1], patch, out=target[y0:y1, x0:x1])


def affinity_quad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The CRAFT affinity box between character quads ``a`` and ``b`` (left to right).

    Each character is split by its diagonals into four triangles; the centres of its top and bottom
    triangles, for both characters, are the affinity box's corners.
    """
    def halves(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centre = q.mean(axis=0)
        return (q[0] + q[1] + centre) / 3, (q[2] + q[3] + centre) / 3

    top_a, bottom_a = halves(a)
    top_b, bottom_b = halves(b)
    return np.stack([top_a, top_b, bottom_b, bottom_a]).astype(np.float32)


def render_targets(shape: tuple[int, int], words: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Region and affinity maps (half of ``shape``) for words given as lists of full-resolution char quads."""
    region = np.zeros((shape[0] // 2, shape[1] // 2), dtype=np.float32)
    affinity = np.zeros_like(region)
    for chars in words:
        halves = [q * 0.5 for q in chars]
        for quad in halves:
            paint_gaussian(region, quad)
        for a, b in zip(halves, halves[1:]):
            paint_gaussian(affinity, affinity_quad(a, b))
    return region, affinity


@dataclass
class _Canvas:
    """A page being drawn: the image and the character quads of every word written so far."""

    image: Image.Image
    words: list[list[np.ndarray]] = field(default_factory=list)

    @property
    def draw(self) -> ImageDraw.ImageDraw:
        return ImageDraw.Draw(self.image)


class PageRenderer:
    """Draws random synthetic pages with exact region/affinity targets.

    ``fonts`` are font file paths, ``text`` draws a string (``"word"`` or ``"line"``), ``size`` is the
    page's longest side range in pixels.
    """

    def __init__(
        self,
        fonts: list[str],
        text: Callable[[str], str],
        seed: int = 0,
        size: tuple[int, int] = (480, 960),
    ) -> None:
        if not fonts:
            raise ValueError("no fonts to render with")
        self.fonts = fonts
        self.mono = [f for f in fonts if "mono" in f.lower() or "cour" in f.lower()] or fonts
        self.text = text
        self.size = size
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.layouts: list[tuple[float, Callable[[_Canvas], None]]] = [
            (3.0, self._document), (2.0, self._receipt), (3.0, self._form), (1.5, self._table),
            (1.0, self._screen), (1.5, self._scene),
        ]

    # ----- fonts and text -------------------------------------------------------------------------

    def _font(self, px: int, mono: bool = False) -> ImageFont.FreeTypeFont:
        path = self.rng.choice(self.mono if mono else self.fonts)
        return ImageFont.truetype(path, max(6, px))

    def _text_size(self, low: float = 9, high: float = 48) -> int:
        return int(round(math.exp(self.rng.uniform(math.log(low), math.log(high)))))

    def write(
        self, canvas: _Canvas, x: float, y: float, text: str, font: ImageFont.FreeTypeFont,
        fill: tuple[int, ...], stroke: int = 0, stroke_fill: tuple[int, ...] | None = None,
    ) -> float:
        """Draw ``text`` with its top-left origin at (x, y), record each word's char quads; returns the advance."""
        canvas.draw.text((x, y), text, font=font, fill=fill, stroke_width=stroke, stroke_fill=stroke_fill)
        word: list[np.ndarray] = []
        for i, ch in enumerate(text):
            if ch.isspace():
                if word:
                    canvas.words.append(word)
                word = []
                continue
            left, top, right, bottom = font.getbbox(ch, stroke_width=stroke)
            if right - left < 1 or bottom - top < 1:
                continue
            dx = x + font.getlength(text[:i])
            word.append(np.array(
                [[dx + left, y + top], [dx + right, y + top], [dx + right, y + bottom], [dx + left, y + bottom]],
                dtype=np.float32,
            ))
        if word:
            canvas.words.append(word)
        return font.getlength(text) + 2 * stroke

    # ----- colours and backgrounds -------------------------------------------------------------------

    def _paper(self, w: int, h: int) -> tuple[np.ndarray, bool]:
        """A background (H×W×3 uint8) and whether it is dark."""
        rng = self.rng
        kind = rng.random()
        if kind < 0.55:
            base = np.array([rng.randint(215, 255)] * 3) - np.array([rng.randint(0, 20) for _ in range(3)])
            image = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
            dark = False
        elif kind < 0.75:
            base = np.array([rng.randint(0, 70) for _ in range(3)], dtype=np.float32)
            image = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
            dark = True
        else:
            image = self._texture(w, h)
            dark = image.mean() < 128
        if rng.random() < 0.5:
            image = image + self._low_frequency(w, h, rng.uniform(5, 40))
        return np.clip(image, 0, 255).astype(np.uint8), dark

    def _low_frequency(self, w: int, h: int, amplitude: float, channels: int = 1) -> np.ndarray:
        cells = self.rng.randint(2, 8)
        small = self.np_rng.normal(0, 1, (cells, cells, channels)).astype(np.float32)
        field_ = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, channels)
        return field_ * amplitude

    def _texture(self, w: int, h: int) -> np.ndarray:
        """A photo-like background: coloured low-frequency blobs plus finer grain."""
        base = self.np_rng.uniform(40, 215, 3).astype(np.float32)
        image = base + self._low_frequency(w, h, self.rng.uniform(20, 70), 3)
        cells = self.rng.randint(16, 64)
        grain = self.np_rng.normal(0, self.rng.uniform(5, 25), (cells, cells, 3)).astype(np.float32)
        return image + cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)

    def _ink(self, dark: bool, background: np.ndarray | None = None) -> tuple[int, int, int]:
        rng = self.rng
        if background is not None:
            dark = float(background.mean()) < 128
        if dark:
            if rng.random() < 0.5:
                v = rng.randint(200, 255)
                return (v, v, v)
            return tuple(rng.randint(120, 255) for _ in range(3))  # type: ignore[return-value]
        if rng.random() < 0.7:
            v = rng.randint(0, 70)
            return (v, v, v)
        return tuple(rng.randint(0, 140) for _ in range(3))  # type: ignore[return-value]

    # ----- distractors --------------------------------------------------------------------------------

    def _graphics(self, canvas: _Canvas, count: int) -> None:
        """Non-text marks the detector must ignore: rules, boxes, circles, bar codes, logos."""
        rng = self.rng
        w, h = canvas.image.size
        draw = canvas.draw
        for _ in range(count):
            colour = tuple(rng.randint(0, 255) for _ in range(3))
            x, y = rng.randint(0, w), rng.randint(0, h)
            kind = rng.random()
            if kind < 0.35:
                length = rng.randint(20, w)
                draw.line([(x, y), (x + length, y)], fill=colour, width=rng.randint(1, 3))
            elif kind < 0.55:
                draw.rectangle([x, y, x + rng.randint(8, 200), y + rng.randint(8, 120)], outline=colour,
                               width=rng.randint(1, 3))
            elif kind < 0.7:
                r = rng.randint(4, 40)
                draw.ellipse([x, y, x + r, y + r], fill=colour if rng.random() < 0.5 else None, outline=colour)
            elif kind < 0.85:
                bar_h = rng.randint(20, 60)
                cursor = x
                for _ in range(rng.randint(20, 50)):
                    bw = rng.randint(1, 4)
                    draw.rectangle([cursor, y, cursor + bw - 1, y + bar_h], fill=(0, 0, 0))
                    cursor += bw + rng.randint(1, 4)
            else:
                pts = [(x + rng.randint(-40, 40), y + rng.randint(-40, 40)) for _ in range(rng.randint(3, 6))]
                draw.polygon(pts, fill=colour)

    # ----- layouts ------------------------------------------------------------------------------------

    def _paragraph_lines(self, font: ImageFont.FreeTypeFont, width: float, count: int) -> list[str]:
        lines: list[str] = []
        current = ""
        while len(lines) < count:
            word = self.text("word")
            candidate = f"{current} {word}" if current else word
            if font.getlength(candidate) > width and current:
                lines.append(current)
                current = word
            else:
                current = candidate
        return lines

    def _document(self, canvas: _Canvas) -> None:
        rng = self.rng
        w, h = canvas.image.size
        dark = np.asarray(canvas.image).mean() < 128
        columns = 1 if rng.random() < 0.65 else 2
        margin = rng.randint(10, 60)
        gap = rng.randint(15, 40)
        col_w = (w - 2 * margin - gap * (columns - 1)) / columns
        size = self._text_size(9, 30)
        for c in range(columns):
            x0 = margin + c * (col_w + gap)
            y = rng.randint(5, 60)
            while y < h - size:
                if rng.random() < 0.2:
                    head = self._font(int(size * rng.uniform(1.3, 2.2)))
                    self.write(canvas, x0, y, self.text("line")[:40], head, self._ink(dark))
                    y += head.size * 1.6
                font = self._font(size)
                leading = size * rng.uniform(1.15, 1.7)
                ink = self._ink(dark)
                for line in self._paragraph_lines(font, col_w, rng.randint(2, 8)):
                    if y > h - size:
                        break
                    indent = rng.choice((0, 0, 0, size))
                    self.write(canvas, x0 + indent, y, line, font, ink)
                    y += leading
                y += leading * rng.uniform(0.3, 1.5)

    def _receipt(self, canvas: _Canvas) -> None:
        rng = self.rng
        w, h = canvas.image.size
        dark = np.asarray(canvas.image).mean() < 128
        ink = self._ink(dark)
        size = self._text_size(10, 26)
        mono = rng.random() < 0.6
        font = self._font(size, mono=mono)
        left = rng.randint(5, max(6, w // 6))
        right = w - rng.randint(5, max(6, w // 6))
        y = rng.uniform(5, 40)
        while y < h - size:
            kind = rng.random()
            if kind < 0.2:
                text = self.text("line")[:30]
                x = (left + right - font.getlength(text)) / 2
                self.write(canvas, x, y, text, font, ink)
            elif kind < 0.7:
                label = self.text("line")[: rng.randint(6, 28)]
                price = self.text("word") if rng.random() < 0.2 else f"{rng.uniform(0, 999):.2f}"
                self.write(canvas, left, y, label, font, ink)
                self.write(canvas, right - font.getlength(price), y, price, font, ink)
            elif kind < 0.8:
                canvas.draw.line([(left, y + size / 2), (right, y + size / 2)], fill=ink, width=1)
            else:
                self.write(canvas, left, y, self.text("line")[:40], font, ink)
            y += size * rng.uniform(1.1, 1.6)

    def _form(self, canvas: _Canvas) -> None:
        """Labels with fields (underlined, boxed or bare, values often typewritten) and shaded section bars."""
        rng = self.rng
        w, h = canvas.image.size
        dark = np.asarray(canvas.image).mean() < 128
        ink = self._ink(dark)
        size = self._text_size(9, 24)
        label_font = self._font(size)
        value_font = self._font(int(size * rng.uniform(0.9, 1.3)), mono=rng.random() < 0.4)
        value_ink = self._ink(dark)
        y = rng.uniform(5, 30)
        while y < h - 2 * size:
            if rng.random() < 0.12:
                y = self._shaded_bar(canvas, y, label_font, dark)
                continue
            x = rng.uniform(5, 40)
            for _ in range(rng.randint(1, 3)):
                if x > w - 60:
                    break
                if rng.random() < 0.15:
                    box = size * 0.8
                    canvas.draw.rectangle([x, y + size * 0.1, x + box, y + size * 0.1 + box], outline=ink, width=1)
                    x += box + size * 0.4
                label = self.text("word") + rng.choice((":", "", " :", "."))
                x += self.write(canvas, x, y, label, label_font, ink) + size * 0.5
                field_w = rng.uniform(60, 260)
                style = rng.random()
                if style < 0.4:  # a rule the value sits on, often touching its descenders
                    rule_y = y + size * rng.uniform(0.95, 1.2)
                    canvas.draw.line([(x, rule_y), (x + field_w, rule_y)], fill=ink, width=rng.choice((1, 1, 2)))
                elif style < 0.7:
                    canvas.draw.rectangle([x - 3, y - 3, x + field_w, y + size * 1.3], outline=ink, width=1)
                if rng.random() < 0.75:
                    value = self.text("line")[: max(3, int(field_w / (size * 0.55)))]
                    self.write(canvas, x + 2, y + rng.uniform(-2, 2), value, value_font, value_ink)
                x += field_w + size * rng.uniform(1, 3)
            y += size * rng.uniform(1.8, 3.0)

    def _shaded_bar(self, canvas: _Canvas, y: float, font: ImageFont.FreeTypeFont, dark: bool) -> float:
        """A section heading on a halftone-shaded bar, as forms print them; returns the next line's y."""
        rng = self.rng
        w, _ = canvas.image.size
        size = font.size
        x0 = int(rng.uniform(5, 40))
        x1 = int(min(w - 5, x0 + rng.uniform(0.3, 1.0) * w))
        y0, y1 = int(y), int(y + size * rng.uniform(1.3, 1.8))
        if x1 - x0 < 20:
            return y + size * 2
        paper = np.asarray(canvas.image)[y0, x0]
        ink = np.array(self._ink(dark), dtype=np.uint8)
        density = rng.uniform(0.2, 0.6)
        if rng.random() < 0.5:  # an ordered screen: diagonal lines, cross-hatched when dense
            yy, xx = np.mgrid[y0:y1, x0:x1]
            period = rng.randint(2, 4)
            dots = (xx + yy) % period == 0
            if density > 0.4:
                dots |= (xx - yy) % period == 0
        else:  # error-diffused grain
            dots = self.np_rng.random((y1 - y0, x1 - x0)) < density
        patch = np.where(dots[..., None], ink, paper).astype(np.uint8)
        canvas.image.paste(Image.fromarray(patch), (x0, y0))
        text = self.text("line")[: max(3, int((x1 - x0) / (size * 0.7)))]
        fill = tuple(int(v) for v in (paper if rng.random() < 0.4 else ink))
        x = x0 + rng.uniform(0.05, 0.5) * max(1.0, x1 - x0 - font.getlength(text))
        self.write(canvas, x, y0 + (y1 - y0 - size) / 2, text, font, fill)
        return y1 + size * rng.uniform(0.8, 2.0)

    def _table(self, canvas: _Canvas) -> None:
        rng = self.rng
        w, h = canvas.image.size
        dark = np.asarray(canvas.image).mean() < 128
        ink = self._ink(dark)
        size = self._text_size(9, 22)
        font = self._font(size)
        bold = self._font(size)
        cols = rng.randint(2, 6)
        x0, y0 = rng.uniform(5, 40), rng.uniform(5, 40)
        col_w = (w - 2 * x0) / cols
        row_h = size * rng.uniform(1.5, 2.4)
        rows = int((h - 2 * y0) / row_h)
        grid = rng.random() < 0.7
        for r in range(rows):
            y = y0 + r * row_h
            if r == 0 and rng.random() < 0.5:
                shade = tuple(int(v) for v in np.clip(np.asarray(canvas.image.getpixel((1, 1))) - 40, 0, 255))
                canvas.draw.rectangle([x0, y, x0 + cols * col_w, y + row_h], fill=shade)
            for c in range(cols):
                cell = self.text("word") if rng.random() < 0.5 else self.text("line")[: int(col_w / (size * 0.6))]
                cell = cell.strip() or "0"
                if r > 0 and rng.random() < 0.4:
                    cell = f"{rng.uniform(0, 10000):,.2f}"
                pad = size * 0.3
                x = x0 + c * col_w + pad
                if rng.random() < 0.3:
                    x = x0 + (c + 1) * col_w - pad - font.getlength(cell)
                if rng.random() < 0.9:
                    self.write(canvas, x, y + (row_h - size) / 2, cell, bold if r == 0 else font, ink)
            if grid:
                canvas.draw.line([(x0, y), (x0 + cols * col_w, y)], fill=ink, width=1)
        if grid:
            for c in range(cols + 1):
                x = x0 + c * col_w
                canvas.draw.line([(x, y0), (x, y0 + rows * row_h)], fill=ink, width=1)

    def _screen(self, canvas: _Canvas) -> None:
        """UI and game score screens: buttons, menus, large numbers, outlined text."""
        rng = self.rng
        w, h = canvas.image.size
        for _ in range(rng.randint(4, 14)):
            size = self._text_size(10, 90)
            font = self._font(size)
            kind = rng.random()
            if kind < 0.35:
                text = rng.choice(("SCORE", "LEVEL", "HI", "TIME", "LIVES", "COINS", "P1", "BEST", "Round"))
                text = f"{text} {rng.randint(0, 10 ** rng.randint(1, 7)):,}" if rng.random() < 0.8 else text
            elif kind < 0.6:
                text = self.text("word")
            else:
                text = self.text("line")[:30]
            width = font.getlength(text)
            x = rng.uniform(0, max(1, w - width))
            y = rng.uniform(0, max(1, h - size * 1.3))
            background = np.asarray(canvas.image)[int(y):int(y + size), int(x):int(x + width) + 1]
            if rng.random() < 0.3:
                fill = tuple(rng.randint(0, 255) for _ in range(3))
                canvas.draw.rounded_rectangle(
                    [x - size * 0.4, y - size * 0.2, x + width + size * 0.4, y + size * 1.4], radius=size // 3,
                    fill=fill,
                )
                background = np.array(fill, dtype=np.uint8)[None, None]
            ink = self._ink(False, background if background.size else None)
            stroke = rng.randint(1, max(1, size // 12)) if rng.random() < 0.3 else 0
            outline = tuple(255 - v for v in ink) if stroke else None
            self.write(canvas, x, y, text, font, ink, stroke, outline)

    def _scene(self, canvas: _Canvas) -> None:
        """A few words or lines on a textured background, colours picked against the local background."""
        rng = self.rng
        w, h = canvas.image.size
        for _ in range(rng.randint(3, 12)):
            size = self._text_size(12, 80)
            font = self._font(size)
            text = self.text("word") if rng.random() < 0.6 else self.text("line")[:24]
            width = font.getlength(text)
            x = rng.uniform(0, max(1, w - width))
            y = rng.uniform(0, max(1, h - size * 1.3))
            background = np.asarray(canvas.image)[int(y):int(y + size), int(x):int(x + width) + 1]
            ink = self._ink(False, background if background.size else None)
            self.write(canvas, x, y, text, font, ink)

    def _vertical_stamp(self, canvas: _Canvas) -> None:
        """A word or document number printed up or down a page margin (turned by 90 degrees)."""
        rng = self.rng
        w, h = canvas.image.size
        font = self._font(self._text_size(10, 28), mono=rng.random() < 0.3)
        text = self.text("word") if rng.random() < 0.5 else str(rng.randint(10**5, 10**9))
        length, thickness = int(font.getlength(text)) + 4, int(font.size * 1.4) + 4
        if length > h - 4 or thickness > w - 4:
            return
        strip = _Canvas(Image.new("L", (length, thickness), 0))
        self.write(strip, 2, 2, text, font, (255,))
        upward = rng.random() < 0.5
        mask = strip.image.transpose(Image.Transpose.ROTATE_90 if upward else Image.Transpose.ROTATE_270)
        x0 = rng.choice((rng.randint(0, 12), w - thickness - rng.randint(0, 12)))
        y0 = rng.randint(0, h - length)
        dark = float(np.asarray(canvas.image)[y0 : y0 + length, x0 : x0 + thickness].mean()) < 128
        canvas.image.paste(self._ink(dark), (x0, y0, x0 + thickness, y0 + length), mask)
        for word in strip.words:  # the same turn for the character quads (corner order is kept)
            canvas.words.append([
                (np.stack([q[:, 1], length - q[:, 0]], axis=1) if upward
                 else np.stack([thickness - q[:, 1], q[:, 0]], axis=1)).astype(np.float32) + np.float32([x0, y0])
                for q in word
            ])

    # ----- geometry and degradation ----------------------------------------------------------------

    def _warp(self, image: np.ndarray, words: list[list[np.ndarray]]) -> tuple[np.ndarray, list[list[np.ndarray]]]:
        """Random rotation (mostly small) and perspective, applied to the image and the quads alike."""
        rng = self.rng
        h, w = image.shape[:2]
        roll = rng.random()
        angle = rng.uniform(-2, 2) if roll < 0.6 else rng.uniform(-12, 12) if roll < 0.92 else rng.uniform(-60, 60)
        jitter = rng.uniform(0, 0.08) if rng.random() < 0.35 else 0.0
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        moved = (corners + self.np_rng.uniform(-jitter, jitter, (4, 2)) * [w, h]).astype(np.float32)
        perspective = cv2.getPerspectiveTransform(corners, moved)
        rotation = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), [0, 0, 1]])
        matrix = rotation @ perspective
        box = cv2.perspectiveTransform(corners[None], matrix)[0]
        shift = -box.min(axis=0)
        size = np.ceil(box.max(axis=0) + shift).astype(int)
        matrix = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]]) @ matrix
        border = tuple(int(v) for v in image[0, 0])
        if rng.random() < 0.5:
            border = tuple(rng.randint(0, 255) for _ in range(3))
        warped = cv2.warpPerspective(image, matrix, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=border)
        moved_words = [[cv2.perspectiveTransform(q[None].astype(np.float64), matrix)[0].astype(np.float32) for q in word]
                       for word in words]
        return warped, moved_words

    def _fax(self, image: np.ndarray) -> np.ndarray:
        """A bilevel scan or fax: gray, thresholded, with ink bleed or fading and speckle."""
        rng = self.rng
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if rng.random() < 0.5:
            gray = cv2.GaussianBlur(gray, (0, 0), rng.uniform(0.3, 0.9))
        block = 2 * rng.randint(7, 20) + 1  # a local threshold, as scanners use, so shadows do not turn black
        ink = cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, rng.uniform(8, 30))
        weight = rng.random()
        if weight < 0.2:
            ink = cv2.dilate(ink, np.ones((2, 2), np.uint8))
        elif weight < 0.35:
            ink &= (self.np_rng.random(ink.shape) > rng.uniform(0.05, 0.25)).astype(np.uint8)  # faded toner
        speckle = self.np_rng.random(ink.shape) < rng.uniform(0, 0.004)
        ink = np.where(speckle, 1 - ink, ink)
        out = np.where(ink > 0, rng.randint(0, 60), rng.randint(200, 255)).astype(np.uint8)
        return np.repeat(out[:, :, None], 3, axis=2)

    def degrade(self, image: np.ndarray) -> np.ndarray:
        """Photometric damage that leaves text geometry unchanged."""
        rng = self.rng
        if rng.random() < 0.15:
            image = self._fax(image)
        out = image.astype(np.float32)
        if rng.random() < 0.3:
            h, w = out.shape[:2]
            out *= 1.0 - np.clip(self._low_frequency(w, h, rng.uniform(0.2, 0.5)), 0, 0.7)
        if rng.random() < 0.5:
            out = out * rng.uniform(0.7, 1.3) + rng.uniform(-40, 40)
        if rng.random() < 0.3:
            out = out + self.np_rng.normal(0, rng.uniform(2, 15), out.shape)
        out = np.clip(out, 0, 255).astype(np.uint8)
        if rng.random() < 0.25:
            out = np.repeat(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
        if rng.random() < 0.35:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.4))
        if rng.random() < 0.2:
            h, w = out.shape[:2]
            f = rng.uniform(0.4, 0.8)
            small = cv2.resize(out, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
            out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.4:
            ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(25, 95)])
            if ok:
                out = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        return out

    def __call__(self) -> MapSample:
        """One random page with its exact targets."""
        rng = self.rng
        low, high = self.size
        w, h = rng.randint(low, high), rng.randint(low, high)
        layout = rng.choices([f for _, f in self.layouts], weights=[p for p, _ in self.layouts])[0]
        background, _ = self._paper(w, h)
        if layout == self._scene and rng.random() < 0.8:
            background = np.clip(self._texture(w, h), 0, 255).astype(np.uint8)
        canvas = _Canvas(Image.fromarray(background))
        if rng.random() < 0.6:
            self._graphics(canvas, rng.randint(1, 10))
        layout(canvas)
        if rng.random() < 0.2:
            self._vertical_stamp(canvas)
        image = np.asarray(canvas.image)
        words = canvas.words
        if rng.random() < 0.7:
            image, words = self._warp(image, words)
        h, w = image.shape[:2]
        image = image[: h - h % 2, : w - w % 2]
        region, affinity = render_targets(image.shape[:2], words)
        return MapSample(self.degrade(image), region, affinity)
