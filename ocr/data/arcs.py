"""Words on circles: where the points of a straight word land when it is laid along an arc,
and images warped through such a mapping.

Training lays real crops along arcs (``arc`` in :mod:`ocr.data.augment`); reading lays a word
read unsure straight again (:func:`unbent`, :mod:`ocr.reading.unbend`). Both use :class:`Arc`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

Point = tuple[float, float]
EDGE_SAMPLES = 32  # the arc's bounding box is found from this many points along each edge
UNBENT_TILES = (24, 2)  # a straightened word is drawn as this many pieces (across, down)
MIN_TEXT_HEIGHT = 8  # pixels: a crop that leaves its word less than this tall is not unbent
UNBEND_DEGREES = 150.0  # the span reading unbends along (benchmarks/unbend.py), and training's arc_unbent


@dataclass(frozen=True)
class Arc:
    """A straight word ``width`` x ``height`` laid along a circle: its middle line, of radius
    ``radius``, spans ``span`` radians and keeps its length; ``arched``: the circle's centre
    below the word (letter tops outward, as on the top of a badge), else above it (sagging).
    Each letter turns with the circle."""

    width: float
    height: float
    span: float
    radius: float
    arched: bool

    def point(self, x: float, y: float) -> Point:
        """Where the word's point ``(x, y)`` lands, the circle's centre at ``(0, 0)``."""
        side = 1.0 if self.arched else -1.0  # arched: y grows towards the centre; sagging: away from it
        theta, r = (x / self.width - 0.5) * self.span, self.radius + side * (self.height / 2 - y)
        return r * math.sin(theta), -side * r * math.cos(theta)

    def locate(self, x: float, y: float) -> Point:
        """The word's point that :meth:`point` places at ``(x, y)`` (its inverse)."""
        side = 1.0 if self.arched else -1.0
        theta, r = math.atan2(x, -side * y), math.hypot(x, y)
        return (theta / self.span + 0.5) * self.width, self.height / 2 - side * (r - self.radius)

    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` of the laid word, as :meth:`point` places it."""
        edge = [self.point(self.width * i / EDGE_SAMPLES, y)
                for i in range(EDGE_SAMPLES + 1) for y in (0.0, self.height)]
        xs, ys = [x for x, _ in edge], [y for _, y in edge]
        return min(xs), min(ys), max(xs), max(ys)


def mesh_warp(image: Image.Image, size: tuple[int, int], source: Callable[[float, float], Point],
              tiles: tuple[int, int], fill) -> Image.Image:
    """An image of ``size`` whose pixel ``(x, y)`` shows ``image`` at ``source(x, y)``, drawn as
    ``tiles`` (across, down) straight-edged pieces; uncovered parts filled with ``fill``."""
    out_w, out_h = size
    across, down = tiles  # tile edges on whole pixels, each tile at least one wide and high
    xs = sorted({out_w * i // across for i in range(across + 1)})
    ys = sorted({out_h * j // down for j in range(down + 1)})
    mesh = []
    for x0, x1 in zip(xs, xs[1:]):
        for y0, y1 in zip(ys, ys[1:]):
            corners = (source(x0, y0), source(x0, y1), source(x1, y1), source(x1, y0))  # PIL's MESH order
            mesh.append(((x0, y0, x1, y1), [c for xy in corners for c in xy]))
    return image.transform(size, Image.Transform.MESH, mesh, Image.Resampling.BILINEAR, fillcolor=fill)


def unbent(image: Image.Image, span_degrees: float, arched: bool, fill) -> Image.Image | None:
    """``image`` taken as the bounding box of a word laid along an arc of ``span_degrees``
    (below 180), arched or sagging (:class:`Arc`), with the word laid straight (what the arc
    leaves uncovered filled with ``fill``); ``None`` when no word at least
    :data:`MIN_TEXT_HEIGHT` tall fits such an arc in it: the crop's width and height fix the
    circle."""
    width, height = image.size
    span = math.radians(span_degrees)
    outer = width / (2 * math.sin(span / 2))  # radius of the letters' outer edge
    inner = (outer - height) / math.cos(span / 2)  # and of their inner edge
    if not 0 < inner < outer - MIN_TEXT_HEIGHT:
        return None
    text_height, radius = outer - inner, (outer + inner) / 2
    straight = (max(1, round(radius * span)), max(1, round(text_height)))
    arc = Arc(*straight, span=span, radius=radius, arched=arched)
    left, top, right, bottom = arc.bounds()
    scale_x, scale_y = width / (right - left), height / (bottom - top)

    def source(x: float, y: float) -> tuple[float, float]:  # straight pixel -> crop point
        px, py = arc.point(x, y)
        return (px - left) * scale_x, (py - top) * scale_y

    return mesh_warp(image, straight, source, UNBENT_TILES, fill)
