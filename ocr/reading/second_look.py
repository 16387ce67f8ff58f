"""A second look at words read unsure and crowded: read again stretched wider.

A word whose characters are narrow for the network's four-column steps (condensed lettering,
small incidental crops) leaves CTC few steps per character, and such readings drop or merge
letters. Read again stretched, the same word gets more steps; the more confident reading wins.
Only words read with low confidence and crowded steps are read again, so most calls pay
nothing (1.8% of the benchmark words, 9.4% of the held-out real crops, are read again).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ocr.text.decoding import Prediction


@dataclass(frozen=True)
class SecondLook:
    """When a word is read again, and how much wider. Chosen on the real crops that training
    held out, never on benchmark photos (``python benchmarks/second_look.py`` reproduces it)."""

    threshold: float = 0.5  # read again below this confidence,
    steps_per_char: float = 2.5  # when the reading has fewer steps than this per character,
    stretch: float = 1.5  # this many times wider

    def wants(self, prediction: Prediction, steps: int) -> bool:
        """Whether ``prediction``, read from ``steps`` time steps, deserves a second look."""
        return prediction.confidence < self.threshold and steps < self.steps_per_char * max(1, len(prediction.text))


def in_steps_of(prediction: Prediction, ratio: float) -> Prediction:
    """``prediction`` with its characters' steps scaled by ``ratio`` (from the stretched
    image's steps to the image's own)."""
    return replace(prediction, steps=[(round(a * ratio), round(b * ratio)) for a, b in prediction.steps])
