"""Turn per-step log-probabilities into text and confidence.

Greedy (best path) CTC decoding: take the most likely class at every step, merge
repeated classes, drop blanks. Confidence of a character is the highest probability
among the steps that emitted it; the word's confidence is the product of its
characters' confidences (for an empty reading: the product over all steps).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ocr.charset import BLANK, Charset


@dataclass
class Prediction:
    """One image's reading."""

    text: str
    confidence: float
    char_confidences: list[float] = field(default_factory=list)


def collapse(ids: list[int]) -> list[tuple[int, int, int]]:
    """CTC collapse rule: runs of one class become one symbol, blanks vanish.

    Returns ``(class_id, first_step, last_step)`` per emitted symbol.
    """
    out: list[tuple[int, int, int]] = []
    prev = BLANK
    for t, i in enumerate(ids):
        if i != BLANK:
            if i == prev:
                out[-1] = (i, out[-1][1], t)
            else:
                out.append((i, t, t))
        prev = i
    return out


def greedy_decode(log_probs: Tensor, lengths: Tensor, charset: Charset) -> list[Prediction]:
    """Best-path decoding of ``(T, B, C)`` log-probabilities; ``lengths`` are valid steps."""
    best_logp, best_ids = log_probs.detach().float().max(dim=-1)
    best_p = best_logp.exp().T.tolist()
    best_ids = best_ids.T.tolist()
    predictions = []
    for ids, probs, n in zip(best_ids, best_p, lengths.tolist()):
        symbols = collapse(ids[:n])
        char_conf = [max(probs[a : b + 1]) for _, a, b in symbols]
        conf = torch.tensor(char_conf if symbols else probs[:n]).prod().item()
        predictions.append(Prediction(charset.decode(i for i, _, _ in symbols), conf, char_conf))
    return predictions
