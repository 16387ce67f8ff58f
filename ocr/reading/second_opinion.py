"""A second opinion: a second network reads the words the first reads unsure.

Two networks trained apart misread different words. Where the first reads a word below a
confidence threshold, the second reads the same pixels and the two networks' per-step
log-probabilities are averaged (and renormalised) before decoding; the rest keep the first
network's reading. Both networks must share the charset, the input and the time steps. The
threshold was chosen on the real crops that training held out, never on benchmark photos
(docs/default_model.md, A second opinion).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocr.geometry import num_frames
from ocr.reading.backends import SplitModel
from ocr.reading.loaded import LoadedModel
from ocr.text.decoding import best_path_confidences


@dataclass
class SecondOpinion:
    """The second network (as the Recognizer runs one) and when it is asked."""

    model: SplitModel
    threshold: float = 0.5  # words the first network reads below this confidence are read again
    words_read: int = 0  # by the second network so far

    def revise(self, pixels: np.ndarray, widths: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
        """``log_probs`` (T, B, C) of the batch ``pixels``, ``widths``, with the unsure words'
        averaged with the second network's."""
        unsure = np.flatnonzero(best_path_confidences(log_probs, num_frames(widths)) < self.threshold)
        if unsure.size == 0:
            return log_probs
        self.words_read += unsure.size
        mean = (log_probs[:, unsure] + self.model(pixels[unsure], widths[unsure])) / 2
        revised = np.array(log_probs, dtype=np.float32)
        revised[:, unsure] = mean - np.log(np.exp(mean).sum(-1, keepdims=True))
        return revised


def check_compatible(first: LoadedModel, second: LoadedModel, path: str | Path) -> None:
    """Raise ``ValueError`` naming ``path`` where the second network cannot average with the first."""
    if second.charset.chars != first.charset.chars:
        raise ValueError(f"{path}: a second opinion needs the first model's charset "
                         f"({len(second.charset.chars)} characters against {len(first.charset.chars)})")
    a, b = first.preprocess, second.preprocess
    if (a.height, a.channels) != (b.height, b.channels):
        raise ValueError(f"{path}: a second opinion needs the first model's input "
                         f"(height {b.height}, {b.channels} channels against {a.height}, {a.channels})")
