"""A scene-text renderer: words that look like crops of real photos, with character extents.

Same interface as :class:`ocr.data.synth.WordRenderer` (``render(text, rng)``); what it adds,
each drawn at random per sample (probabilities in ``SceneRenderer.P``):
- typography: variable-font weights and widths, letter spacing, outline, drop shadow,
  3-D extrusion;
- colour: RGB text on RGB backgrounds (flat, gradient, noise texture, stripes) with a
  luminance-contrast check, converted to gray at the end;
- layout: curved baselines, rotation, perspective; neighbouring letters and sign-frame
  lines at the crop edges; tight crops where text fills 70-100% of the height;
- photometry: low resolution (small crop upsampled), blur, motion blur, JPEG artefacts,
  uneven lighting, light noise.
Character extents follow every geometric step (box corners through the same mapping).
"""
from __future__ import annotations

import io
import math
import random
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from ocr.data.batch import Extents



@lru_cache(maxsize=1024)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    try:
        font.axes = font.get_variation_axes()
    except OSError:  # not a variable font
        font.axes = []
    return font


def _vary(font: ImageFont.FreeTypeFont, rng: random.Random) -> None:
    """Pick a random weight (and width, where the font has that axis)."""
    if not font.axes:
        return
    values = []
    for axis in font.axes:
        name = axis["name"].decode() if isinstance(axis["name"], bytes) else str(axis["name"])
        lo, hi = axis["minimum"], axis["maximum"]
        if name.lower() == "weight":
            values.append(rng.choice([rng.uniform(lo, hi), max(lo, min(hi, rng.choice([400, 700, 800])))]))
        elif name.lower() == "width":
            values.append(rng.uniform(max(lo, 75), hi))
        else:
            values.append(axis["default"])
    font.set_variation_by_axes(values)


def _luminance(rgb: tuple[int, int, int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _colour_pair(rng: random.Random, min_contrast: float = 90) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    while True:
        bg = tuple(rng.randint(0, 255) for _ in range(3))
        fg = tuple(rng.randint(0, 255) for _ in range(3))
        if abs(_luminance(bg) - _luminance(fg)) >= min_contrast:
            return fg, bg


class SceneRenderer:
    """Render ``text`` as a gray scene-text crop; returns the image and each character's x-extent."""

    P = {
        "curve": 0.15, "rotate": 0.5, "perspective": 0.4, "outline": 0.15, "shadow": 0.15, "extrude": 0.08,
        "texture": 0.35, "neighbours": 0.3, "frame_line": 0.25, "low_res": 0.5, "blur": 0.35,
        "motion_blur": 0.1, "jpeg": 0.4, "lighting": 0.3, "noise": 0.2,
    }

    def __init__(self, fonts: list[Path], font_sizes: tuple[int, int] = (32, 56), max_angle: float = 6.0) -> None:
        if not fonts:
            raise ValueError("SceneRenderer needs at least one font")
        self.fonts, self.font_sizes, self.max_angle = fonts, font_sizes, max_angle

    def chance(self, rng: random.Random, what: str) -> bool:
        return rng.random() < self.P[what]

    def render(self, text: str, rng: random.Random) -> tuple[Image.Image, Extents]:
        font = _font(rng.choice(self.fonts), rng.randint(*self.font_sizes))
        _vary(font, rng)
        size = font.size
        fg, bg = _colour_pair(rng)
        spacing = rng.choice([0.0, rng.uniform(-0.05, 0.25)]) * size
        stroke = max(1, size // 16) if self.chance(rng, "outline") else 0
        stroke_fill = tuple(255 - c for c in fg) if stroke else None

        # layout: pen position and ink box of every character, optional curved baseline
        ascent, descent = font.getmetrics()
        curve = rng.uniform(-0.25, 0.25) * size if self.chance(rng, "curve") else 0.0
        offsets, boxes, inks, x = [], [], [], 0.0
        for ch in text:
            left, top, right, bottom = font.getbbox(ch, stroke_width=stroke)
            if right <= left:
                left, right = 0, font.getlength(ch)
            offsets.append(x)
            boxes.append((left, right))
            inks.append((top, bottom) if bottom > top else (ascent // 2, ascent))
            x += font.getlength(ch) + spacing
        width = max(1.0, x - spacing)
        n = len(text)
        dy = [curve * (((i + 0.5) / n) * 2 - 1) ** 2 for i in range(n)]  # a parabola: arcs up or down

        pad = int(0.8 * size + abs(curve))
        canvas_w, canvas_h = int(width) + 2 * pad, ascent + descent + 2 * pad
        image = self._background(canvas_w, canvas_h, bg, rng)
        layer = Image.new("L", image.size, 0)  # text coverage
        draw = ImageDraw.Draw(layer)
        origin = [(pad + off, pad + d) for off, d in zip(offsets, dy)]
        for ch, (px, py) in zip(text, origin):
            draw.text((px, py), ch, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
        if self.chance(rng, "neighbours"):
            self._neighbours(draw, font, origin, width, pad, rng)
        self._paint(image, layer, fg, stroke_fill, font, text, origin, stroke, rng)
        if self.chance(rng, "frame_line"):
            self._frame_line(image, pad, width, ascent + descent, fg, rng)

        # the ink's vertical extent, not the font's line box: crops are relative to the letters
        top = min(py + t for (_, py), (t, _) in zip(origin, inks))
        bottom = max(py + b for (_, py), (_, b) in zip(origin, inks))
        extents = [(px + l, px + r) for (px, _), (l, r) in zip(origin, boxes)]
        image, extents, (top, bottom) = self._geometry(image, extents, top, bottom, bg, rng)
        image, extents = self._crop(image, extents, top, bottom, size, rng)
        return self._photometry(image, rng).convert("L"), extents

    def _background(self, w: int, h: int, bg, rng: random.Random) -> Image.Image:
        image = Image.new("RGB", (w, h), bg)
        if self.chance(rng, "texture"):
            kind = rng.choice(["noise", "stripes", "gradient"])
            if kind == "noise":
                noise = Image.effect_noise((max(1, w // 4), max(1, h // 4)), rng.uniform(20, 60)).resize((w, h))
                tint = Image.merge("RGB", [noise] * 3)
                image = Image.blend(image, ImageChops.multiply(image, tint), rng.uniform(0.2, 0.5))
            elif kind == "stripes":
                draw = ImageDraw.Draw(image)
                step = rng.randint(3, 12)
                shade = tuple(max(0, min(255, c + rng.randint(-40, 40))) for c in bg)
                for y in range(0, h, step * 2):
                    draw.rectangle((0, y, w, y + step - 1), fill=shade)
            else:
                other = tuple(max(0, min(255, c + rng.randint(-80, 80))) for c in bg)
                ramp = Image.linear_gradient("L").resize((w, h))
                image = Image.composite(Image.new("RGB", (w, h), other), image, ramp)
        return image

    def _neighbours(self, draw, font, origin, width, pad, rng) -> None:
        """Parts of other letters just outside the word (they get cropped to slivers)."""
        letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        y = origin[0][1]
        gap = rng.uniform(0.5, 0.9) * font.size
        if rng.random() < 0.5:
            draw.text((pad - gap - font.getlength("W"), y), rng.choice(letters), font=font, fill=255)
        if rng.random() < 0.5:
            draw.text((pad + width + gap, y), rng.choice(letters), font=font, fill=255)

    def _paint(self, image, layer, fg, stroke_fill, font, text, origin, stroke, rng) -> None:
        """Composite the text coverage onto the background, with shadow / extrusion / outline."""
        if self.chance(rng, "extrude"):
            dx, dy = rng.choice([-1, 1]), 1
            depth = rng.randint(2, max(3, font.size // 10))
            side = tuple(int(c * 0.5) for c in fg)
            for k in range(depth, 0, -1):
                image.paste(side, (0, 0), ImageChops.offset(layer, dx * k, dy * k))
        elif self.chance(rng, "shadow"):
            offset = max(1, font.size // 14)
            shadow = ImageChops.offset(layer, offset, offset).filter(ImageFilter.GaussianBlur(rng.uniform(0, 2)))
            image.paste((0, 0, 0) if _luminance(fg) > 100 else (255, 255, 255), (0, 0), shadow)
        if stroke:
            image.paste(stroke_fill, (0, 0), layer)
            inner = Image.new("L", image.size, 0)
            draw = ImageDraw.Draw(inner)
            for ch, (px, py) in zip(text, origin):
                draw.text((px, py), ch, font=font, fill=255)
            image.paste(fg, (0, 0), inner)
        else:
            image.paste(fg, (0, 0), layer)

    def _frame_line(self, image, pad, width, text_h, fg, rng) -> None:
        """A sign's edge or underline near the word: the classic source of a spurious 'l'."""
        draw = ImageDraw.Draw(image)
        thick = rng.randint(1, 4)
        if rng.random() < 0.6:  # vertical edge just left or right of the word
            x = pad + width + rng.uniform(2, 12) if rng.random() < 0.7 else pad - rng.uniform(2, 12)
            draw.rectangle((x, 0, x + thick, image.height), fill=fg)
        else:
            y = pad + text_h + rng.uniform(0, 6) if rng.random() < 0.5 else pad - rng.uniform(2, 8)
            draw.rectangle((0, y, image.width, y + thick), fill=fg)

    def _geometry(self, image, extents, top, bottom, bg, rng):
        """Rotation and perspective, applied as one homography; extents follow their boxes."""
        w, h = image.size
        cx, cy = w / 2, h / 2
        angle = math.radians(rng.uniform(-self.max_angle, self.max_angle)) if self.chance(rng, "rotate") else 0.0
        shear = rng.uniform(-0.3, 0.3) if rng.random() < 0.3 else 0.0
        # forward map as a 3x3 matrix: translate to centre, rotate+shear, perspective, translate back
        ca, sa = math.cos(angle), math.sin(angle)
        m = [[ca, sa + shear * ca, 0.0], [-sa, ca - shear * sa, 0.0], [0.0, 0.0, 1.0]]
        if self.chance(rng, "perspective"):
            m[2][0] = rng.uniform(-0.6, 0.6) / w
            m[2][1] = rng.uniform(-0.3, 0.3) / h

        def forward(x: float, y: float) -> tuple[float, float]:
            u, v = x - cx, y - cy
            d = m[2][0] * u + m[2][1] * v + 1.0
            return (m[0][0] * u + m[0][1] * v) / d + cx, (m[1][0] * u + m[1][1] * v) / d + cy

        if angle == 0.0 and shear == 0.0 and m[2][0] == 0.0:
            return image, extents, (top, bottom)
        inverse = _invert(m)
        # PIL wants output -> input coefficients with (x, y) in absolute pixels
        coeffs = _perspective_coeffs(inverse, cx, cy)
        out = image.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=bg)
        new_extents, ys = [], []
        for x0, x1 in extents:
            corners = [forward(x, y) for x in (x0, x1) for y in (top, bottom)]
            new_extents.append((min(p[0] for p in corners), max(p[0] for p in corners)))
            ys += [p[1] for p in corners]
        return out, new_extents, (min(ys), max(ys))

    def _crop(self, image, extents, top, bottom, size, rng):
        """Tight crops: margins of -5% to 30% of the font size; text fills most of the height."""
        text_h = bottom - top
        left = extents[0][0] - rng.uniform(-0.04, 0.3) * size
        right = extents[-1][1] + rng.uniform(-0.04, 0.3) * size
        top_c = top - rng.uniform(-0.08, 0.2) * text_h
        bottom_c = bottom + rng.uniform(-0.08, 0.2) * text_h
        box = (max(0, int(left)), max(0, int(top_c)), min(image.width, int(math.ceil(right))),
               min(image.height, int(math.ceil(bottom_c))))
        return image.crop(box), [(x0 - box[0], x1 - box[0]) for x0, x1 in extents]

    def _photometry(self, image: Image.Image, rng: random.Random) -> Image.Image:
        if self.chance(rng, "lighting"):
            ramp = Image.linear_gradient("L").rotate(rng.choice([0, 90, 180, 270])).resize(image.size)
            dark = Image.new("RGB", image.size, (0, 0, 0))
            image = Image.composite(image, Image.blend(image, dark, rng.uniform(0.2, 0.6)), ramp)
        if self.chance(rng, "low_res"):  # a small crop, upsampled
            h = rng.randint(14, 28)
            w = max(2, round(image.width * h / image.height))
            image = image.resize((w, h), Image.Resampling.BILINEAR).resize(image.size, Image.Resampling.BICUBIC)
        if self.chance(rng, "blur"):
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))
        if self.chance(rng, "motion_blur"):
            k = rng.choice([3, 5])
            image = image.filter(
                ImageFilter.Kernel((k, k), [1 / k if r == k // 2 else 0 for r in range(k) for _ in range(k)]))
        if self.chance(rng, "noise"):
            noise = Image.merge("RGB", [Image.effect_noise(image.size, rng.uniform(4, 12))] * 3)
            image = Image.blend(image, noise, rng.uniform(0.03, 0.1))
        if self.chance(rng, "jpeg"):
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=rng.randint(15, 80))
            image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        return image


def _invert(m: list[list[float]]) -> list[list[float]]:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return [
        [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
        [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
        [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
    ]


def _perspective_coeffs(inv: list[list[float]], cx: float, cy: float) -> tuple[float, ...]:
    """PIL PERSPECTIVE coefficients for ``inv`` acting on centred coordinates."""
    # input = T(c) . inv . T(-c) applied to output pixel (x, y, 1)
    t = [[1, 0, -cx], [0, 1, -cy], [0, 0, 1]]
    back = [[1, 0, cx], [0, 1, cy], [0, 0, 1]]
    full = _matmul(back, _matmul(inv, t))
    s = full[2][2]
    return tuple(full[r][k] / s for r in range(3) for k in range(3))[:8]


def _matmul(a, b):
    return [[sum(a[r][k] * b[k][col] for k in range(3)) for col in range(3)] for r in range(3)]
