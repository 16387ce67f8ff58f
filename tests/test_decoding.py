import math

import numpy as np
import pytest
import torch

from ocr.text.charset import Charset
from ocr.text.decoding import Prediction, collapse, greedy_decode

CHARSET = Charset("abc")


def one_hot_log_probs(ids: list[int], p: float = 0.9) -> torch.Tensor:
    """(T, 1, 4) log-probabilities whose best path is ``ids``, each step with probability p."""
    probs = torch.full((len(ids), 1, 4), (1 - p) / 3)
    for t, i in enumerate(ids):
        probs[t, 0, i] = p
    return probs.log()


@pytest.mark.parametrize(
    "path, text",
    [
        ([1, 1, 2, 2, 3], "abc"),  # repeats merge
        ([1, 0, 1], "aa"),  # a blank separates two equal characters
        ([0, 0, 0], ""),  # all blank
        ([0, 1, 1, 0, 0, 1, 2, 0], "aab"),
        ([3, 0, 3, 3, 0, 3], "ccc"),
    ],
)
def test_greedy_ctc_collapse_rules(path, text):
    (prediction,) = greedy_decode(one_hot_log_probs(path), torch.tensor([len(path)]), CHARSET)
    assert prediction.text == text
    assert len(prediction.char_confidences) == len(text)


def test_collapse_reports_each_symbols_steps():
    assert collapse([0, 2, 2, 0, 2, 1]) == [(2, 1, 2), (2, 4, 4), (1, 5, 5)]


def test_steps_beyond_length_are_ignored():
    (prediction,) = greedy_decode(one_hot_log_probs([1, 0, 2, 3]), torch.tensor([2]), CHARSET)
    assert prediction.text == "a"


def test_word_confidence_is_product_of_character_confidences():
    (prediction,) = greedy_decode(one_hot_log_probs([1, 0, 2], p=0.8), torch.tensor([3]), CHARSET)
    assert prediction.char_confidences == pytest.approx([0.8, 0.8])
    assert prediction.confidence == pytest.approx(0.64)
    assert not math.isnan(prediction.confidence)


def test_best_paths_already_read_are_kept_and_the_others_decoded():
    """Runs cut at each image's length, repeats, all-blank readings: the same predictions."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(12, 40, 4)) * 3
    logits[:, 5, 1:] -= 30  # an all-blank reading
    logits[:6, 6] = [0, 9, 0, 0]  # one long run of "a" cut by the length below
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    lengths = rng.integers(1, 13, size=40)
    lengths[6] = 4
    expected = greedy_decode(log_probs, lengths, CHARSET)
    known = [p if b % 3 else None for b, p in enumerate(expected)]
    known[1] = marker = Prediction("kept", 0.5, [0.5] * 4)
    decoded = greedy_decode(log_probs, lengths, CHARSET, known)
    assert decoded[1] is marker
    assert [p for b, p in enumerate(decoded) if b != 1] == [p for b, p in enumerate(expected) if b != 1]


def test_accuracy_at_coverage_rejects_the_least_confident():
    from ocr.text.metrics import accuracy_at_coverage

    outcomes = [(0.9, True)] * 8 + [(0.2, False), (0.1, False)]
    assert accuracy_at_coverage(outcomes, 1.0) == 0.8
    assert accuracy_at_coverage(outcomes, 0.9) == pytest.approx(8 / 9)
    assert accuracy_at_coverage(outcomes, 0.8) == 1.0
