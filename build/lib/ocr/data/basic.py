"""The basic renderer: a word on a plain or gradient gray background, lightly degraded.

``WordRenderer.render(text, rng) -> (gray PIL image, extents)``; ``renderer=scene``
(:mod:`ocr.data.scene`) draws far more realistic scene text.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ocr.data.drawing import contrasting_level, noise_image
from ocr.data.fonts import load_font


class WordRenderer:
    """Draw a word on a plain or gradient gray background with light geometric and photometric noise."""

    def __init__(self, fonts: list[Path], font_sizes: tuple[int, int], max_angle: float) -> None:
        if not fonts:
            raise ValueError("WordRenderer needs at least one font")
        self.fonts, self.font_sizes, self.max_angle = fonts, font_sizes, max_angle

    def render(self, text: str, rng: random.Random) -> tuple[Image.Image, list[tuple[float, float]]]:
        """A gray image of ``text`` and each character's (left, right) column in it."""
        font = load_font(rng.choice(self.fonts), rng.randint(*self.font_sizes))
        spacing = rng.uniform(-0.03, 0.12) * font.size
        offsets, ink = _layout(font, text, spacing)
        ascent, descent = font.getmetrics()
        width = int(math.ceil(offsets[-1])) + 1
        pad_x, pad_y = int(0.4 * font.size), int(0.3 * font.size)
        canvas_w, canvas_h = width + 2 * pad_x, ascent + descent + 2 * pad_y

        bg = rng.randint(0, 255)
        fg = contrasting_level(bg, rng)
        image = _background(canvas_w, canvas_h, bg, rng)
        draw = ImageDraw.Draw(image)
        for ch, x in zip(text, offsets):
            draw.text((pad_x + x, pad_y), ch, font=font, fill=fg)
        extents = [(pad_x + x + l, pad_x + x + r) for x, (l, r) in zip(offsets, ink)]

        angle = rng.uniform(-self.max_angle, self.max_angle)
        shear = rng.uniform(-0.25, 0.25)
        image, extents = _affine(image, extents, pad_y, pad_y + ascent + descent, angle, shear, bg)
        image, extents = _crop(image, extents, font.size, rng)
        return _degrade(image, rng), extents


def _layout(font: ImageFont.FreeTypeFont, text: str, spacing: float) -> tuple[list[float], list[tuple[float, float]]]:
    """Pen x-offset of each character (plus the end) and each glyph's ink (left, right)."""
    offsets, ink, x = [], [], 0.0
    for ch in text:
        left, _, right, _ = font.getbbox(ch)
        advance = font.getlength(ch)
        if right <= left:  # spaces and empty glyphs: use the advance
            left, right = 0, advance
        offsets.append(x)
        ink.append((left, right))
        x += advance + spacing
    offsets.append(x - spacing)
    return offsets, ink


def _background(w: int, h: int, level: int, rng: random.Random) -> Image.Image:
    image = Image.new("L", (w, h), level)
    if rng.random() < 0.4:  # horizontal or vertical brightness gradient
        delta = rng.randint(-40, 40)
        ramp = Image.linear_gradient("L").resize((w, h) if rng.random() < 0.5 else (h, w))
        if ramp.size != (w, h):
            ramp = ramp.transpose(Image.Transpose.ROTATE_90).resize((w, h))
        image = Image.eval(ramp, lambda v: max(0, min(255, level + (v - 128) * delta // 128)))
    return image


def _affine(image, extents, top, bottom, angle, shear, fill):
    """Rotate by ``angle`` degrees and shear horizontally; map each character's box too."""
    a = math.radians(angle)
    cx, cy = image.width / 2, image.height / 2
    # forward map: x' = m00 (x - cx) + m01 (y - cy) + cx ; y' = m10 (x - cx) + m11 (y - cy) + cy
    m00, m01 = math.cos(a), math.sin(a) + shear * math.cos(a)
    m10, m11 = -math.sin(a), math.cos(a) - shear * math.sin(a)
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    coeffs = (i00, i01, cx - i00 * cx - i01 * cy, i10, i11, cy - i10 * cx - i11 * cy)
    out = image.transform(image.size, Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR, fillcolor=fill)
    mapped = []
    for x0, x1 in extents:
        xs = [m00 * (x - cx) + m01 * (y - cy) + cx for x in (x0, x1) for y in (top, bottom)]
        mapped.append((min(xs), max(xs)))
    return out, mapped


def _crop(image, extents, font_size, rng):
    """Crop horizontally around the ink with random (mostly tight) margins."""
    left = max(0.0, extents[0][0] - rng.uniform(0.0, 0.35) * font_size)
    right = min(float(image.width), extents[-1][1] + rng.uniform(0.0, 0.35) * font_size)
    top = rng.uniform(0.0, 0.25) * font_size
    bottom = image.height - rng.uniform(0.0, 0.25) * font_size
    box = (int(left), int(top), int(math.ceil(right)), int(math.ceil(bottom)))
    return image.crop(box), [(x0 - box[0], x1 - box[0]) for x0, x1 in extents]


def _degrade(image: Image.Image, rng: random.Random) -> Image.Image:
    if rng.random() < 0.3:  # low resolution: down then up
        f = rng.uniform(0.35, 0.8)
        small = image.resize((max(4, int(image.width * f)), max(4, int(image.height * f))), Image.Resampling.BILINEAR)
        image = small.resize(image.size, Image.Resampling.BILINEAR)
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.3:
        noise = noise_image(image.size, rng.uniform(9, 43), rng)
        image = Image.blend(image, noise, rng.uniform(0.05, 0.2))
    return image
