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

import math

import numpy as np

from ocr.geometry import step_centre
from ocr.text.decoding import Prediction

MIN_HEIGHT_FRACTION = 0.15  # a word gap is at least this fraction of the image height wide


def blank_columns(images: np.ndarray, widths: np.ndarray, level: float = 0.3) -> np.ndarray:
    """``(B, W)``: which columns of a padded ``(B, C, H, W)`` batch have a value range below
    ``level`` of their image's (over its ``widths`` valid columns; padding counts as blank)."""
    gray = images[:, 0] if images.shape[1] == 1 else images.mean(1, dtype=np.float32)
    high, low = gray.max(1), gray.min(1)
    if (widths == gray.shape[-1]).all():  # no padding (one image, or words of one width)
        total = high.max(1) - low.min(1)
        return ((high - low) < level * total[:, None]) | (total[:, None] <= 0)
    valid = np.arange(gray.shape[-1]) < widths[:, None]
    total = np.where(valid, high, -np.inf).max(1) - np.where(valid, low, np.inf).min(1)
    return ((high - low) < level * total[:, None]) | (total[:, None] <= 0) | ~valid


def batch_word_gaps(images: np.ndarray, widths: np.ndarray) -> list[list[float]]:
    """:func:`word_gaps` of every image of a padded batch. Most words have no blank run inside
    their ink as wide as a word gap can be (``MIN_HEIGHT_FRACTION`` of the height): those skip
    the search (found as bytes: a few C calls per image instead of a dozen numpy ones a batch,
    which cost more for the one-word batches of reading one image at a time)."""
    blank = blank_columns(images, widths)
    shortest_run = b"\x01" * max(1, math.ceil(MIN_HEIGHT_FRACTION * images.shape[-2]))
    flags = blank.tobytes()  # a bool is one byte, 0 or 1
    columns = blank.shape[1]
    return [word_gaps(blank[b, :w].tolist(), images.shape[-2])
            if shortest_run in flags[b * columns : b * columns + w].strip(b"\x01") else []
            for b, w in enumerate(widths.tolist())]


def word_gaps(blank: list[bool], height: int, factor: float = 2.0,
              min_height_fraction: float = MIN_HEIGHT_FRACTION) -> list[float]:
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


def insert_spaces(prediction: Prediction, gaps: list[float]) -> Prediction:
    """``prediction`` with a space at each word gap (column, as :func:`word_gaps` gives):
    between the last character whose time step lies left of the gap and the next one."""
    if len(prediction.text) < 2 or not gaps:
        return prediction
    centres = [step_centre((a + b) / 2) for a, b in prediction.steps]
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
