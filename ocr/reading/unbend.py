"""Unbending: a word read unsure is read again laid straight, as if it ran along an arc.

Lettering on badges and arched signs runs along a circle, and its crop is the arc's bounding
box; the network, which reads columns left to right, reads such words poorly (about half of
the held-out real crops laid along a third of a circle right, a quarter along a half). A crop
of a word on an arc of a given span, arched or sagging, can be laid straight again: its
width and height fix the circle (:func:`~ocr.data.arcs.unbent`). The span is
not known, so an unsure, not very wide word is read again unbent along one span both ways,
and an unbent reading replaces the first only when it is much more confident: straight words
keep their readings, and most calls pay nothing. A view that the first network alone reads
less confidently than the word is dropped before the second network and the letter model
see it (two thirds of the views of straight words). Settings chosen on the real crops that
training held out, laid along arcs (``python benchmarks/unbend.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from ocr.data.arcs import UNBEND_DEGREES, unbent
from ocr.data.augment import mean_colour
from ocr.text.decoding import Prediction


@dataclass(frozen=True)
class Unbend:
    """Which words are read again unbent, along which arcs, and when an unbent reading wins."""

    threshold: float = 0.5  # read again below this confidence,
    max_aspect: float = 2.5  # when the crop is at most this many times as wide as tall,
    spans: tuple[float, ...] = (UNBEND_DEGREES,)  # unbent along arcs of these degrees, arched and sagging;
    margin: float = 0.2  # an unbent reading wins by being this much more confident;
    promise: float = 0.0  # a view whose best path reads below the word's confidence plus this is dropped early

    def wants(self, prediction: Prediction, image: Image.Image) -> bool:
        """Whether ``prediction``, read from ``image``, deserves a reading unbent."""
        return prediction.confidence < self.threshold and image.width <= self.max_aspect * image.height

    def views(self, image: Image.Image) -> list[Image.Image]:
        """``image`` unbent along each of :attr:`spans`, arched and sagging (those that fit)."""
        fill = mean_colour(image)
        candidates = (unbent(image, span, arched, fill) for span in self.spans for arched in (True, False))
        return [view for view in candidates if view is not None]

    def floor(self, first: Prediction) -> float:
        """The best-path confidence (first network alone) below which an unbent view of the
        word read as ``first`` is read no further: no second opinion, letter model or second
        look (they seldom lift such a view by :attr:`margin`)."""
        return first.confidence + self.promise

    def prefers(self, unbent_reading: Prediction, first: Prediction) -> bool:
        """Whether ``unbent_reading`` replaces the ``first`` reading of the same word."""
        return unbent_reading.confidence >= first.confidence + self.margin
