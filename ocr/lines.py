"""Whole text lines with a model trained on single words: spaces from the gaps between words.

A CTC model whose charset has no space reads "Open daily" as "Opendaily". The image still
shows where the words part: a run of blank columns far wider than the gaps between the
letters. :func:`word_gaps` finds the runs of blank columns inside the ink that are at least
``min_height_fraction`` of the image height and ``factor`` times the median run plus one
pixels (letter-spaced words, "S A L E", have all runs wide, so the median keeps them whole);
:func:`insert_spaces` puts a space between the two characters, placed by their time steps,
on either side of each such gap.
"""
from __future__ import annotations

import torch

from ocr.decoding import Prediction
from ocr.models.backbone import FRAME_STRIDE


def blank_columns(image: torch.Tensor, level: float = 0.3) -> list[bool]:
    """Columns of a ``(C, H, W)`` image whose value range is below ``level`` of the image's."""
    gray = image.float().mean(0)
    spread = gray.amax(0) - gray.amin(0)
    total = float(gray.max() - gray.min())
    if total <= 0:
        return [True] * gray.shape[1]
    return (spread < level * total).tolist()


def word_gaps(blank: list[bool], height: int, factor: float = 2.0, min_height_fraction: float = 0.15) -> list[float]:
    """Centre columns of the blank runs inside the ink that are wide enough to part words."""
    ink = [x for x, flag in enumerate(blank) if not flag]
    if not ink:
        return []
    runs, start = [], None
    for x in range(ink[0], ink[-1] + 1):
        if blank[x] and start is None:
            start = x
        elif not blank[x] and start is not None:
            runs.append((start, x))
            start = None
    if not runs:
        return []
    lengths = sorted(b - a for a, b in runs)
    threshold = max(min_height_fraction * height, factor * lengths[(len(lengths) - 1) // 2] + 1)  # lower median
    return [(a + b) / 2 for a, b in runs if b - a >= threshold]


def insert_spaces(prediction: Prediction, image: torch.Tensor) -> Prediction:
    """``prediction`` with a space at each word gap of ``image`` (its preprocessed tensor):
    between the last character whose time step lies left of the gap and the next one."""
    if len(prediction.text) < 2:
        return prediction
    gaps = word_gaps(blank_columns(image), image.shape[-2])
    centres = [FRAME_STRIDE * (a + b) / 2 for a, b in prediction.steps]  # frame t sits on column 4t
    text: list[str] = []
    confidences: list[float] = []
    steps: list[tuple[int, int]] = []
    for k, (char, confidence, span) in enumerate(zip(prediction.text, prediction.char_confidences, prediction.steps)):
        if k and any(centres[k - 1] < gap < centres[k] for gap in gaps):
            text.append(" ")
            confidences.append(1.0)  # a space does not change the word's confidence
            steps.append((prediction.steps[k - 1][1], span[0]))
        text.append(char)
        confidences.append(confidence)
        steps.append(span)
    return Prediction("".join(text), prediction.confidence, confidences, steps)
