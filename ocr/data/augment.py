"""Random changes to real photos in training, so a few thousand crops go further.

Each effect is drawn with its own probability (``data.folder_augment`` in
``configs/data/*.yaml``): rotation, shear and perspective (one warp), a steep turn
(``tilt``: the upright box around a word photographed at a slant, as in ICDAR 2015's
crops, whose words lie at up to 45 degrees and beyond), a bend (``curve``:
columns shifted along a parabola) or the word laid along a circle (``arc``: letters turned
with it, as on badges and arched signs; curved lettering, which the real training crops
hardly show; ``arc_unbent``: laid along an arc and straight again as reading unbends it, along
an arc of another span: the curve left over), crop jitter, low resolution, blur, contrast
and JPEG. Geometry fills with the image's mean colour so no black corners appear.
"""
from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageEnhance, ImageFilter

from ocr.data.arcs import UNBEND_DEGREES, Arc, mesh_warp, unbent

EFFECTS = ("warp", "tilt", "curve", "arc", "arc_unbent", "jitter", "low_res", "blur", "contrast", "jpeg")
CURVE_STRIPS = 16  # a bend is drawn as this many straight pieces
ARC_TILES = (24, 4)  # an arc is drawn as this many straight-edged tiles across and down


class PhotoAugment:
    """Callable ``(image, rng) -> image``.

    Args:
        effects: probability per effect name (:data:`EFFECTS`); missing ones are off.
        max_angle: rotation range in degrees (warp).
        max_shear: horizontal shear range, as a fraction of the height (warp).
        max_perspective: how far each corner may move, as a fraction of the size (warp).
        perspective_outward: corners move only outwards, so the word shrinks into margins and
            no letter at an edge of a tight crop is cut off (warp).
        max_jitter: how much each side may be cut or padded, as a fraction of the size.
        max_bend: how far the middle of a curved word may rise above (or sink below) its
            ends, as a fraction of its height (curve).
        arc_degrees: the range of how much of a circle a word on an arc spans (arc; 180: a
            half circle).
        tilt_degrees: the range of a steep turn, either way (tilt).
        unbend_degrees: the span of the arc an arc is laid straight along again (arc_unbent;
            :class:`~ocr.reading.unbend.Unbend`'s for reading).
    """

    def __init__(self, effects: dict[str, float] | None = None, max_angle: float = 6.0, max_shear: float = 0.3,
                 max_perspective: float = 0.1, max_jitter: float = 0.08, max_bend: float = 0.6,
                 arc_degrees: tuple[float, float] = (30.0, 150.0),
                 tilt_degrees: tuple[float, float] = (10.0, 45.0), perspective_outward: bool = False,
                 unbend_degrees: float = UNBEND_DEGREES) -> None:
        self.effects = dict(effects or {})
        if unknown := set(self.effects) - set(EFFECTS):
            raise ValueError(f"unknown augmentation effects {sorted(unknown)}; known: {EFFECTS}")
        self.max_angle, self.max_shear = max_angle, max_shear
        self.max_perspective, self.max_jitter, self.max_bend = max_perspective, max_jitter, max_bend
        self.arc_degrees, self.tilt_degrees = tuple(arc_degrees), tuple(tilt_degrees)
        self.perspective_outward, self.unbend_degrees = perspective_outward, unbend_degrees

    def __call__(self, image: Image.Image, rng: random.Random) -> Image.Image:
        if self._chance(rng, "warp"):
            image = self._warp(image, mean_colour(image), rng)
        if self._chance(rng, "tilt"):
            angle = rng.uniform(*self.tilt_degrees) * rng.choice((-1, 1))
            image = image.rotate(angle, Image.Resampling.BILINEAR, expand=True, fillcolor=mean_colour(image))
        if self._chance(rng, "curve"):
            image = self._curve(image, mean_colour(image), rng)
        if self._chance(rng, "arc"):
            image, _ = self._arc(image, mean_colour(image), rng)
        if self._chance(rng, "arc_unbent"):
            fill = mean_colour(image)
            bent, arched = self._arc(image, fill, rng)
            straight = unbent(bent, self.unbend_degrees, arched, fill)
            image = bent if straight is None else straight  # bent where no such arc fits
        if self._chance(rng, "jitter"):
            image = self._jitter(image, mean_colour(image), rng)
        if self._chance(rng, "low_res"):
            h = rng.randint(8, 20)
            if h < image.height:
                w = max(4, round(image.width * h / image.height))
                image = image.resize((w, h), Image.Resampling.BILINEAR).resize(image.size, Image.Resampling.BICUBIC)
        if self._chance(rng, "blur"):
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2) * image.height / 32))
        if self._chance(rng, "contrast"):
            image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.4, 1.3))
        if self._chance(rng, "jpeg"):
            buf = io.BytesIO()
            image.convert("RGB" if image.mode != "L" else "L").save(buf, "JPEG", quality=rng.randint(20, 70))
            image = Image.open(io.BytesIO(buf.getvalue()))
            image.load()
        return image

    def _chance(self, rng: random.Random, effect: str) -> bool:
        p = self.effects.get(effect, 0.0)
        return p > 0 and rng.random() < p

    def _warp(self, image: Image.Image, fill, rng: random.Random) -> Image.Image:
        """Rotation, shear and corner moves as one perspective transform of the corners."""
        w, h = image.size
        angle = rng.uniform(-self.max_angle, self.max_angle)
        image = image.rotate(angle, Image.Resampling.BILINEAR, expand=True, fillcolor=fill)
        w, h = image.size
        shear = rng.uniform(-self.max_shear, self.max_shear) * h
        p = self.max_perspective
        corners = [(0, 0), (0, h), (w, h), (w, 0)]  # PIL's QUAD order

        def move(side: int) -> float:  # side: -1 for a left or top edge, 1 for a right or bottom one
            return side * rng.uniform(0, p) if self.perspective_outward else rng.uniform(-p, p)

        # where each output corner samples the input: sheared and moved by up to p of the size
        src = [(x + (shear / 2 if y == 0 else -shear / 2) + move(1 if x else -1) * w, y + move(1 if y else -1) * h)
               for x, y in corners]
        return image.transform((w, h), Image.Transform.QUAD, [c for xy in src for c in xy],
                               Image.Resampling.BILINEAR, fillcolor=fill)

    def _curve(self, image: Image.Image, fill, rng: random.Random) -> Image.Image:
        """The word bent along a parabola: each column shifted up or down, its middle by up to
        ``max_bend`` of the height against its ends (arched or sagging); the image grows by
        that much. Columns shift, they do not turn: a fair likeness of gentle arcs."""
        w, h = image.size
        bend = rng.uniform(-self.max_bend, self.max_bend) * h
        out_h = h + math.ceil(abs(bend))

        def top(x: float) -> float:  # where the word's top edge lies in the output at column x
            u = 2 * x / w - 1
            return max(bend, 0.0) - bend * (1 - u * u)

        strips = min(CURVE_STRIPS, w)  # each at least a column wide
        edges = [w * i // strips for i in range(strips + 1)]
        mesh = []
        for x0, x1 in zip(edges, edges[1:]):
            box = (x0, 0, x1, out_h)
            # the input quadrilateral each output strip samples: upper-left, lower-left, lower-right, upper-right
            quad = (x0, -top(x0), x0, out_h - top(x0), x1, out_h - top(x1), x1, -top(x1))
            mesh.append((box, quad))
        return image.transform((w, out_h), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR, fillcolor=fill)

    def _arc(self, image: Image.Image, fill, rng: random.Random) -> tuple[Image.Image, bool]:
        """The word laid along a circle spanning a random part of it (:class:`Arc`), arched or
        sagging at even odds, and whether arched. The output is the arc's bounding box, as a
        crop of curved text is."""
        w, h = image.size
        span = math.radians(rng.uniform(*self.arc_degrees))
        arched = rng.random() < 0.5
        arc = Arc(w, h, span, radius=max(w / span, h), arched=arched)  # a circle no tighter than the word is tall
        left, top, right, bottom = arc.bounds()
        size = (math.ceil(right - left), math.ceil(bottom - top))
        return mesh_warp(image, size, lambda x, y: arc.locate(x + left, y + top), ARC_TILES, fill), arched

    def _jitter(self, image: Image.Image, fill, rng: random.Random) -> Image.Image:
        """Cut into or pad each side by up to ``max_jitter`` of the width / height."""
        w, h = image.size
        j = self.max_jitter
        left, right = (round(rng.uniform(-j, j) * w) for _ in range(2))
        top, bottom = (round(rng.uniform(-j, j) * h) for _ in range(2))
        box = (left, top, w - right, h - bottom)
        if box[2] - box[0] < 4 or box[3] - box[1] < 4:
            return image
        out = Image.new(image.mode, (box[2] - box[0], box[3] - box[1]), fill)
        out.paste(image, (-left, -top))
        return out


def mean_colour(image: Image.Image):
    """The image's mean gray level or RGB colour: what geometry fills uncovered corners with."""
    return image.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
