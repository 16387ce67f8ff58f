"""Unbending: a word read unsure is read again laid straight, as if it ran along an arc.

Lettering on badges and arched signs runs along a circle, and its crop is the arc's bounding
box; the network, which reads columns left to right, reads such words poorly (about half of
the held-out real crops laid along a third of a circle right, a quarter along a half). A crop
of a word on an arc of a given span, arched or sagging, can be laid straight again: its
width and height fix the circle (:func:`unbent`). The span is
not known, so an unsure, not very wide word is read again unbent along one span both ways,
and an unbent reading replaces the first only when it is much more confident: straight words
keep their readings, and most calls pay nothing. A view that the first network alone reads
less confidently than the word is dropped before the second network and the letter model
see it (two thirds of the views of straight words). Settings chosen on the real crops that
training held out, laid along arcs (``python benchmarks/unbend.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from ocr.data.arcs import Arc, mesh_warp
from ocr.data.augment import mean_colour
from ocr.text.decoding import Prediction

TILES = (24, 2)  # the straightened word is drawn as this many pieces (across, down)
MIN_TEXT_HEIGHT = 8  # pixels: a crop that leaves its word less than this tall is not unbent


def unbent(image: Image.Image, span_degrees: float, arched: bool) -> Image.Image | None:
    """``image`` taken as the bounding box of a word laid along an arc of ``span_degrees``
    (below 180), arched or sagging (:class:`~ocr.data.arcs.Arc`), with the word laid straight;
    ``None`` when no word at least :data:`MIN_TEXT_HEIGHT` tall fits such an arc in it."""
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

    return mesh_warp(image, straight, source, TILES, mean_colour(image))


@dataclass(frozen=True)
class Unbend:
    """Which words are read again unbent, along which arcs, and when an unbent reading wins."""

    threshold: float = 0.5  # read again below this confidence,
    max_aspect: float = 2.5  # when the crop is at most this many times as wide as tall,
    spans: tuple[float, ...] = (150.0,)  # unbent along arcs of these degrees, arched and sagging;
    margin: float = 0.2  # an unbent reading wins by being this much more confident;
    promise: float = 0.0  # a view whose best path reads below the word's confidence plus this is dropped early

    def wants(self, prediction: Prediction, image: Image.Image) -> bool:
        """Whether ``prediction``, read from ``image``, deserves a reading unbent."""
        return prediction.confidence < self.threshold and image.width <= self.max_aspect * image.height

    def views(self, image: Image.Image) -> list[Image.Image]:
        """``image`` unbent along each of :attr:`spans`, arched and sagging (those that fit)."""
        candidates = (unbent(image, span, arched) for span in self.spans for arched in (True, False))
        return [view for view in candidates if view is not None]

    def floor(self, first: Prediction) -> float:
        """The best-path confidence (first network alone) below which an unbent view of the
        word read as ``first`` is read no further: no second opinion, letter model or second
        look (they seldom lift such a view by :attr:`margin`)."""
        return first.confidence + self.promise

    def prefers(self, unbent_reading: Prediction, first: Prediction) -> bool:
        """Whether ``unbent_reading`` replaces the ``first`` reading of the same word."""
        return unbent_reading.confidence >= first.confidence + self.margin
