"""A second opinion: a second network reads the words the first reads unsure.

Two networks trained apart misread different words. Where the first reads a word below a
confidence threshold, the second reads the same pixels and the two networks' per-step
log-probabilities are averaged (and renormalised) before decoding; the rest keep the first
network's reading. Both networks must share the charset, the input and the time steps. The
threshold was chosen on the real crops that training held out, never on benchmark photos
(docs/default_model.md, stage 7).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocr.reading.backends import SplitModel
from ocr.reading.loaded import LoadedModel


Revision = Callable[[], np.ndarray]  # a batch's log-probabilities, once the second network has read it


def as_read(log_probs: np.ndarray) -> Revision:
    """The :data:`Revision` of a batch no second network reads."""
    return lambda: log_probs


@dataclass
class SecondOpinion:
    """The second network (as the Recognizer runs one) and when it is asked. It reads on its
    own worker threads while the caller decodes the batches before."""

    model: SplitModel
    threshold: float = 0.6  # words the first network reads below this confidence are read again
    words_read: int = 0  # by the second network so far

    def unsure(self, confidences: np.ndarray) -> np.ndarray:
        """Which of the words the first network read with best-path ``confidences`` (B,) the
        second reads again: a boolean mask."""
        return confidences < self.threshold

    def ask(self, pixels: np.ndarray, widths: np.ndarray, log_probs: np.ndarray,
            confidences: np.ndarray) -> tuple[Revision, np.ndarray]:
        """Send the words of the batch ``pixels``, ``widths`` that the first network read unsure
        (``log_probs``, T x B x C; ``confidences``: their best paths', B) to the second. Returns
        a function giving ``log_probs`` with theirs averaged with the second network's (waiting
        for it), and which words those are (:meth:`unsure`)."""
        mask = self.unsure(confidences)
        unsure = np.flatnonzero(mask)
        if unsure.size == 0:
            return as_read(log_probs), mask
        self.words_read += unsure.size
        future = self.model.submit(pixels[unsure], widths[unsure])

        def revised() -> np.ndarray:
            mean = (log_probs[:, unsure] + future.result()) / 2
            out = np.array(log_probs, dtype=np.float32)
            out[:, unsure] = mean - np.log(np.exp(mean).sum(-1, keepdims=True))
            return out

        return revised, mask


def check_compatible(first: LoadedModel, second: LoadedModel, path: str | Path) -> None:
    """Raise ``ValueError`` naming ``path`` where the second network cannot average with the first."""
    ours, theirs = first.charset.chars, second.charset.chars
    if theirs != ours:
        how = (f"{len(theirs)} characters against {len(ours)}" if len(theirs) != len(ours)
               else "the same characters in another order" if sorted(theirs) == sorted(ours) else "other characters")
        raise ValueError(f"{path}: a second opinion needs the first model's charset ({how})")
    a, b = first.preprocess, second.preprocess
    if (a.height, a.channels) != (b.height, b.channels):
        raise ValueError(f"{path}: a second opinion needs the first model's input "
                         f"(height {b.height}, {b.channels} channels against {a.height}, {a.channels})")
