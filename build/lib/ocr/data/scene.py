"""A scene-text renderer: words that look like crops of real photos, with character extents.

Same interface as :class:`ocr.data.basic.WordRenderer` (``render(text, rng)``); what it adds,
each drawn at random per sample with the probability ``effects`` gives it (the config's
``data.synth.render.effects``, ``configs/renderer/scene.yaml``; names in :data:`EFFECTS`):
- typography: variable-font weights and widths, letter spacing, outline (or outline-only
  letters), drop shadow, 3-D extrusion, engraved or raised letters, gradient-filled
  letters, dot-matrix (LED or bulb) letters;
- backgrounds: crops of natural photos (``data/backgrounds``, also mirrored or turned),
  flat, gradient, noise texture, stripes; text and background levels pass a contrast check;
- layout: curved baselines, letters along an arc of a circle (up to a half circle, each
  turned with it), rotation, perspective (both also much stronger); neighbouring letters and sign-frame
  lines at the crop edges; tight crops (text fills 70-100% of the height, or letters cut
  deeper at the top and bottom) and loose ones; the whole crop squeezed or stretched, or
  condensed to tall, narrow letters;
- photometry: low resolution (small crop upsampled), blur, motion blur, JPEG artefacts,
  uneven lighting, light noise; sometimes a low contrast between letters and background.
Everything is drawn in 8-bit gray (the model reads gray) on a canvas only as large as the
crop needs: that is what makes it fast. Character extents follow every geometric step (box
corners through the same mapping).
"""
from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from ocr.assets import BACKGROUNDS
from ocr.data.batch import Extents
from ocr.data.drawing import contrasting_level, noise_image
from ocr.data.fonts import font_families, load_font

EFFECTS = (  # in the order of configs/renderer/scene.yaml
    "curve", "arc", "rotate", "perspective", "strong_geometry", "outline", "hollow", "shadow", "extrude",
    "emboss", "fill", "low_contrast", "dots", "photo", "photo_turn", "texture", "neighbours", "frame_line",
    "loose", "deep_clip", "squeeze", "condense", "low_res", "blur", "motion_blur", "jpeg", "lighting", "noise",
)
_SWAPS_AXES = {Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270, Image.Transpose.TRANSPOSE,
               Image.Transpose.TRANSVERSE}


@lru_cache(maxsize=8)
def _photos(folder: str) -> tuple[Image.Image, ...]:
    if not Path(folder).is_dir():
        raise ValueError(f"{folder}: background photo folder not found")
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        raise ValueError(f"{folder}: no .jpg or .png background photos in it")
    return tuple(Image.open(p).convert("L") for p in paths)


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


@dataclass
class _Layout:
    """One sample's word as laid out on its canvas, before geometry and cropping."""

    text: str
    font: ImageFont.FreeTypeFont
    bg: int  # background gray level
    fg: int  # letters' gray level
    stroke: int  # outline width in pixels; 0: none
    loose: bool  # wide margins instead of a tight crop
    margins: tuple[float, float]  # left and right crop margins, in font sizes
    origin: list[tuple[float, float]]  # each character's pen position
    advances: list[float]  # each character's advance width
    width: float  # the whole word's advance width
    pad_x: int  # canvas room left and right of the word
    pad_y: int  # canvas room above and below the line
    line_height: int  # the font's ascent + descent
    plain: bool  # no extra spacing and no curve: drawn as one string (kerned)
    angles: list[float]  # each character's turn in degrees (counter-clockwise) along an arc; empty: upright

    @property
    def size(self) -> int:
        return self.font.size

    def extents(self) -> Extents:
        """Each character's (left, right) column: its advance, or on an arc its advance as
        turned, around its centre (never overlapping the next)."""
        if not self.angles:
            return [(px - self.stroke, px + a + self.stroke) for (px, _), a in zip(self.origin, self.advances)]
        out = []
        for (px, _), a, angle in zip(self.origin, self.advances, self.angles):
            half = max(0.5, a / 2 * abs(math.cos(math.radians(angle))))
            out.append((px + a / 2 - half, px + a / 2 + half))
        return out

    def vertical_extent(self) -> tuple[float, float]:
        """Top and bottom of the ink (of the turned letters' boxes, on an arc)."""
        _, ink_top, _, ink_bottom = self.font.getbbox(self.text, stroke_width=self.stroke)
        ys = [y for _, y in self.origin]
        if not self.angles:
            return min(ys) + ink_top, max(ys) + ink_bottom
        middle, half_h = (ink_top + ink_bottom) / 2, (ink_bottom - ink_top) / 2
        reach = [half_h * abs(math.cos(math.radians(t))) + a / 2 * abs(math.sin(math.radians(t)))
                 for a, t in zip(self.advances, self.angles)]
        return min(y + middle - r for y, r in zip(ys, reach)), max(y + middle + r for y, r in zip(ys, reach))

    @property
    def canvas(self) -> tuple[int, int]:
        return int(self.width) + 2 * self.pad_x, self.line_height + 2 * self.pad_y


def _clamp(v: float) -> int:
    return max(0, min(255, int(v)))


class SceneRenderer:
    """Render ``text`` as a gray scene-text crop; returns the image and each character's x-extent.

    Args:
        fonts: font files; one family is drawn uniformly, then one of its files.
        font_sizes: range of font sizes in pixels (the crop is about 1.1-1.6x that high).
        max_angle: rotations are drawn from a normal distribution clipped at this (degrees).
        arc_degrees: the range of how much of a circle a word on an arc spans (``arc`` effect).
        background_dir: folder of photos (no text in them) for the photo backgrounds.
        effects: probability of each effect (names in :data:`EFFECTS`); one not given is off.
    """

    def __init__(
        self,
        fonts: list[Path],
        font_sizes: tuple[int, int],
        max_angle: float,
        effects: dict[str, float],
        arc_degrees: tuple[float, float],
        background_dir: str | Path | None = None,
    ) -> None:
        if not fonts:
            raise ValueError("SceneRenderer needs at least one font")
        unknown = sorted(set(effects) - set(EFFECTS))
        if unknown:
            raise ValueError(f"unknown renderer effects {unknown}; known: {sorted(EFFECTS)}")
        self.p = {name: float(effects.get(name, 0.0)) for name in EFFECTS}
        self.families = font_families(fonts)
        self.font_sizes, self.max_angle, self.arc_degrees = tuple(font_sizes), max_angle, tuple(arc_degrees)
        self.background_dir = str(background_dir or BACKGROUNDS)
        _photos(self.background_dir)  # a bad folder fails here, not mid-training

    def chance(self, rng: random.Random, what: str) -> bool:
        """Whether to apply effect ``what``; an effect at probability 0 draws no random number,
        so switching one on never changes the samples of a config that leaves it off."""
        p = self.p[what]
        return p > 0 and rng.random() < p

    def render(self, text: str, rng: random.Random) -> tuple[Image.Image, Extents]:
        word = self._layout(text, rng)
        image = self._background(word.canvas, word.bg, rng)
        layer = Image.new("L", word.canvas, 0)  # text coverage
        _draw_text(layer, word, word.stroke)
        if self.chance(rng, "dots"):
            layer = ImageChops.multiply(layer, _dot_grid(word.canvas, max(3, word.size // rng.randint(5, 9)), rng))
        if self.chance(rng, "neighbours"):
            self._neighbours(ImageDraw.Draw(layer), word, rng)
        self._paint(image, layer, word, rng)
        if self.chance(rng, "frame_line"):
            self._frame_line(image, word, rng)

        # the ink's vertical extent, not the font's line box: crops are relative to the letters;
        # a character's horizontal extent is its advance (cheap, and never overlaps the next)
        top, bottom = word.vertical_extent()
        extents = word.extents()
        image, extents, (top, bottom) = self._geometry(image, extents, top, bottom, word.bg, rng)
        image, extents = self._crop(image, extents, top, bottom, word, rng)
        if self.chance(rng, "squeeze"):  # crops of one word come in many aspect ratios
            image, extents = _scale_width(image, extents, _log_uniform(rng, 0.7, 1.4))
        elif self.chance(rng, "condense"):  # condensed lettering: tall, narrow letters
            image, extents = _scale_width(image, extents, _log_uniform(rng, 0.4, 0.7))
        return self._photometry(image, rng), extents

    def _layout(self, text: str, rng: random.Random) -> _Layout:
        """Font, levels, spacing, outline, curve and margins drawn for one sample, and where
        each character goes on a canvas that leaves room for them."""
        font = load_font(rng.choice(rng.choice(self.families)), rng.randint(*self.font_sizes))
        _vary(font, rng)
        size = font.size
        bg = rng.randint(0, 255)
        fg = contrasting_level(bg, rng, min_contrast=25 if self.chance(rng, "low_contrast") else 60)
        spacing = rng.choice([0.0, rng.uniform(-0.05, 0.25)]) * size
        stroke = max(1, size // 16) if self.chance(rng, "outline") else 0
        curve = rng.uniform(-0.25, 0.25) * size if self.chance(rng, "curve") else 0.0
        arc = self._arc(rng)
        if arc:
            curve, stroke = 0.0, 0  # an arc replaces the parabola; its letters are drawn one by one, unstroked
        loose = self.chance(rng, "loose")
        margins = (*(rng.uniform(0.3, 0.9) if loose else rng.uniform(-0.04, 0.3) for _ in range(2)),)

        ascent, descent = font.getmetrics()
        advance = {ch: font.getlength(ch) for ch in set(text)}
        advances = [advance[ch] for ch in text]
        offsets = list(accumulate((a + spacing for a in advances[:-1]), initial=0.0))
        width = max(1.0, offsets[-1] + advances[-1])
        n = len(text)
        dy = [curve * (((i + 0.5) / n) * 2 - 1) ** 2 for i in range(n)]  # a parabola: arcs up or down
        angles = []
        if arc:  # along a circle: each letter moved onto it and turned with its tangent
            sweep, smile = arc
            radius = width / sweep
            phis = [(off + a / 2 - width / 2) / radius for off, a in zip(offsets, advances)]
            dx = [radius * math.sin(p) + width / 2 - off - a / 2 for p, off, a in zip(phis, offsets, advances)]
            offsets = [off + d for off, d in zip(offsets, dx)]
            drop = [radius * (1 - math.cos(p)) for p in phis]
            dy = [-d + max(drop) if smile else d for d in drop]
            angles = [math.degrees(p if smile else -p) for p in phis]
        pad_x = int(max(margins) * size + 0.2 * size) + 2 + (size if arc else 0)
        pad_y = int(0.3 * size + max(abs(curve), max(dy, default=0.0))) + 2 + (size if arc else 0)
        return _Layout(text=text, font=font, bg=bg, fg=fg, stroke=stroke, loose=loose, margins=margins,
                       origin=[(pad_x + off, pad_y + d) for off, d in zip(offsets, dy)], advances=advances,
                       width=width, pad_x=pad_x, pad_y=pad_y, line_height=ascent + descent,
                       plain=spacing == 0 and curve == 0 and not arc, angles=angles)

    def _arc(self, rng: random.Random) -> tuple[float, bool] | None:
        """With the ``arc`` effect: how much of a circle the word spans (radians, up to a half
        circle) and whether it runs along the circle's bottom (a smile) or its top."""
        if not self.chance(rng, "arc"):
            return None
        return math.radians(rng.uniform(*self.arc_degrees)), rng.random() < 0.4

    def _background(self, size: tuple[int, int], bg: int, rng: random.Random) -> Image.Image:
        w, h = size
        if self.chance(rng, "photo"):  # a crop of a photo, pulled towards the background level
            photo = rng.choice(_photos(self.background_dir))
            turn = rng.choice(list(Image.Transpose)) if self.chance(rng, "photo_turn") else None
            scale = rng.uniform(0.5, 2.0)
            cw, ch = max(2, int(w * scale)), max(2, int(h * scale))
            if turn in _SWAPS_AXES:  # taken across the photo, turned upright below
                cw, ch = ch, cw
            cw, ch = min(photo.width, cw), min(photo.height, ch)
            x, y = rng.randint(0, photo.width - cw), rng.randint(0, photo.height - ch)
            crop = photo.crop((x, y, x + cw, y + ch))
            crop = (crop.transpose(turn) if turn is not None else crop).resize(size, Image.Resampling.BILINEAR)
            return Image.blend(Image.new("L", size, bg), crop, rng.uniform(0.2, 0.6))
        image = Image.new("L", size, bg)
        if self.chance(rng, "texture"):
            kind = rng.choice(["noise", "stripes", "gradient"])
            if kind == "noise":
                noise = noise_image((max(1, w // 4), max(1, h // 4)), rng.uniform(35, 100), rng).resize(size)
                image = Image.blend(image, ImageChops.multiply(image, noise), rng.uniform(0.2, 0.5))
            elif kind == "stripes":
                draw = ImageDraw.Draw(image)
                step = rng.randint(3, 12)
                shade = _clamp(bg + rng.randint(-40, 40))
                for y in range(0, h, step * 2):
                    draw.rectangle((0, y, w, y + step - 1), fill=shade)
            else:
                ramp = Image.linear_gradient("L").resize(size)
                image = Image.composite(Image.new("L", size, _clamp(bg + rng.randint(-80, 80))), image, ramp)
        return image

    def _neighbours(self, draw: ImageDraw.ImageDraw, word: _Layout, rng: random.Random) -> None:
        """Parts of other letters just outside the word (they get cropped to slivers)."""
        letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        font, pad, y = word.font, word.pad_x, word.origin[0][1]
        gap = rng.uniform(0.5, 0.9) * font.size
        if rng.random() < 0.5:
            draw.text((pad - gap - font.getlength("W"), y), rng.choice(letters), font=font, fill=255)
        if rng.random() < 0.5:
            draw.text((pad + word.width + gap, y), rng.choice(letters), font=font, fill=255)

    def _paint(self, image: Image.Image, layer: Image.Image, word: _Layout, rng: random.Random) -> None:
        """Composite the text coverage onto the background, with shadow / extrusion / engraving /
        outline, in one level or a vertical gradient."""
        bg, fg, font, stroke = word.bg, word.fg, word.font, word.stroke
        if self.chance(rng, "extrude"):
            dx, dy = rng.choice([-1, 1]), 1
            depth = rng.randint(2, max(3, font.size // 10))
            for k in range(depth, 0, -1):
                image.paste(fg // 2, (0, 0), ImageChops.offset(layer, dx * k, dy * k))
        elif self.chance(rng, "emboss"):  # letters barely darker or lighter than the sign, lit edges
            d, edge = rng.choice([-1, 1]) * max(1, font.size // 16), rng.randint(60, 110)
            image.paste(_clamp(bg + edge), (0, 0), ImageChops.offset(layer, -d, -d))
            image.paste(_clamp(bg - edge), (0, 0), ImageChops.offset(layer, d, d))
            fg = _clamp(bg + rng.randint(-25, 25))
        elif self.chance(rng, "shadow"):
            offset = max(1, font.size // 14)
            shadow = ImageChops.offset(layer, offset, offset).filter(ImageFilter.GaussianBlur(rng.uniform(0, 2)))
            image.paste(0 if fg > 100 else 255, (0, 0), shadow)
        ink = _gradient(image.size, fg, rng) if self.chance(rng, "fill") else fg
        if stroke:  # the stroked coverage in the inverse level, the plain letters on top
            inner = Image.new("L", image.size, 0)
            _draw_text(inner, word, 0)
            if self.chance(rng, "hollow"):  # outline-only letters (open capitals, neon tubes)
                image.paste(ink, (0, 0), ImageChops.subtract(layer, inner))
            else:
                image.paste(255 - fg, (0, 0), layer)
                image.paste(ink, (0, 0), inner)
        else:
            image.paste(ink, (0, 0), layer)

    def _frame_line(self, image: Image.Image, word: _Layout, rng: random.Random) -> None:
        """A sign's edge or underline near the word: the classic source of a spurious 'l'."""
        pad_x, pad_y, width, text_h, fg = word.pad_x, word.pad_y, word.width, word.line_height, word.fg
        draw = ImageDraw.Draw(image)
        thick = rng.randint(1, 4)
        if rng.random() < 0.6:  # vertical edge just left or right of the word
            x = pad_x + width + rng.uniform(2, 12) if rng.random() < 0.7 else pad_x - rng.uniform(2, 12)
            draw.rectangle((x, 0, x + thick, image.height), fill=fg)
        else:
            y = pad_y + text_h + rng.uniform(0, 6) if rng.random() < 0.5 else pad_y - rng.uniform(2, 8)
            draw.rectangle((0, y, image.width, y + thick), fill=fg)

    def _geometry(self, image, extents, top, bottom, bg, rng):
        """Rotation and perspective, applied as one homography; extents follow their boxes."""
        w, h = image.size
        cx, cy = w / 2, h / 2
        k = 2.5 if self.chance(rng, "strong_geometry") else 1.0  # street views seen from aside, tilted photos
        angle = 0.0
        if self.chance(rng, "rotate"):
            limit = k * self.max_angle
            angle = math.radians(max(-limit, min(limit, rng.gauss(0.0, limit / 2))))
        shear = k * rng.uniform(-0.3, 0.3) if rng.random() < 0.3 * k else 0.0
        # forward map as a 3x3 matrix: translate to centre, rotate+shear, perspective, translate back
        ca, sa = math.cos(angle), math.sin(angle)
        m = [[ca, sa + shear * ca, 0.0], [-sa, ca - shear * sa, 0.0], [0.0, 0.0, 1.0]]
        if self.chance(rng, "perspective"):
            m[2][0] = k * rng.uniform(-0.6, 0.6) / w
            m[2][1] = k * rng.uniform(-0.3, 0.3) / h

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

    def _crop(self, image: Image.Image, extents: Extents, top: float, bottom: float, word: _Layout,
              rng: random.Random) -> tuple[Image.Image, Extents]:
        """Crop around the ink: the word's margins (left, right) in font sizes; tight crops cut
        into the letters by up to 8% of their height (20% with ``deep_clip``), loose ones leave
        up to 40% above and below."""
        size, margins, loose = word.size, word.margins, word.loose
        text_h = bottom - top
        cut = 0.2 if not loose and self.chance(rng, "deep_clip") else 0.08
        vertical = (-cut, 0.4) if loose else (-cut, 0.2)
        left = extents[0][0] - margins[0] * size
        right = extents[-1][1] + margins[1] * size
        top_c = top - rng.uniform(*vertical) * text_h
        bottom_c = bottom + rng.uniform(*vertical) * text_h
        box = (max(0, int(left)), max(0, int(top_c)), min(image.width, int(math.ceil(right))),
               min(image.height, int(math.ceil(bottom_c))))
        width = box[2] - box[0]
        clipped = [(min(max(0.0, x0 - box[0]), width - 1.0), min(float(width), x1 - box[0])) for x0, x1 in extents]
        return image.crop(box), [(x0, max(x1, x0 + 1.0)) for x0, x1 in clipped]

    def _photometry(self, image: Image.Image, rng: random.Random) -> Image.Image:
        if self.chance(rng, "lighting"):
            ramp = Image.linear_gradient("L").rotate(rng.choice([0, 90, 180, 270])).resize(image.size)
            dark = Image.blend(image, Image.new("L", image.size, 0), rng.uniform(0.2, 0.6))
            image = Image.composite(image, dark, ramp)
        if self.chance(rng, "low_res"):  # a small crop, upsampled
            h = rng.randint(12, 28)
            w = max(2, round(image.width * h / image.height))
            image = image.resize((w, h), Image.Resampling.BILINEAR).resize(image.size, Image.Resampling.BICUBIC)
        if self.chance(rng, "blur"):
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))
        if self.chance(rng, "motion_blur"):
            k = rng.choice([3, 5])
            image = image.filter(
                ImageFilter.Kernel((k, k), [1 / k if r == k // 2 else 0 for r in range(k) for _ in range(k)]))
        if self.chance(rng, "noise"):
            image = Image.blend(image, noise_image(image.size, rng.uniform(7, 20), rng), rng.uniform(0.03, 0.1))
        if self.chance(rng, "jpeg"):
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=rng.randint(15, 80))
            image = Image.open(io.BytesIO(buf.getvalue())).convert("L")
        return image


def _gradient(size: tuple[int, int], level: int, rng: random.Random) -> Image.Image:
    """A top-to-bottom ramp around ``level`` (painted or lit lettering is rarely one flat gray)."""
    ends = sorted((level, _clamp(level + rng.choice([-1, 1]) * rng.randint(30, 80))))
    ramp = Image.linear_gradient("L").resize(size).point(lambda v: ends[0] + (ends[1] - ends[0]) * v // 255)
    return ramp.transpose(Image.Transpose.FLIP_TOP_BOTTOM) if rng.random() < 0.5 else ramp


def _dot_grid(size: tuple[int, int], pitch: int, rng: random.Random) -> Image.Image:
    """Round dots (255) on black at ``pitch`` pixels: multiplied into the coverage, letters
    become dot-matrix or light-bulb lettering."""
    grid = Image.new("L", size, 0)
    draw = ImageDraw.Draw(grid)
    radius = pitch * rng.uniform(0.3, 0.45)
    for y in range(pitch // 2, size[1], pitch):
        for x in range(pitch // 2, size[0], pitch):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return grid


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    """A factor between ``low`` and ``high``, as likely halved as doubled."""
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _scale_width(image: Image.Image, extents: Extents, factor: float) -> tuple[Image.Image, Extents]:
    """The crop resized to ``factor`` times its width, with the extents scaled alike."""
    width = max(1, round(image.width * factor))
    scale = width / image.width
    return image.resize((width, image.height), Image.Resampling.BILINEAR), [(a * scale, b * scale) for a, b in extents]


def _draw_text(image: Image.Image, word: _Layout, stroke: int) -> None:
    """Full coverage of the word on ``image``: character by character at its origin (turned,
    on an arc) or, when the layout is plain (no spacing, no curve), in one call from the first
    origin (much faster)."""
    draw, font = ImageDraw.Draw(image), word.font
    if word.plain:
        draw.text(word.origin[0], word.text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    elif not word.angles:
        for ch, xy in zip(word.text, word.origin):
            draw.text(xy, ch, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    else:
        for ch, (x, y), a, angle in zip(word.text, word.origin, word.advances, word.angles):
            glyph = Image.new("L", (int(a) + 2 * font.size, word.line_height + 2 * font.size), 0)
            ImageDraw.Draw(glyph).text((font.size, font.size), ch, font=font, fill=255)
            glyph = glyph.rotate(angle, Image.Resampling.BILINEAR)  # about the glyph box's centre
            image.paste(255, (round(x) - font.size, round(y) - font.size), glyph)


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
