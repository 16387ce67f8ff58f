"""Beam search and lexicon decoding against brute force on small cases."""
import itertools

import numpy as np
import pytest
import torch

from ocr.text.charset import Charset
from ocr.text.decoders import build_decoder
from ocr.text.decoding import Lexicon, collapse, prediction_for, prefix_beam_search, viterbi_alignment
from tests.conftest import random_logp

CHARSET = Charset("ab")


def label_probabilities(logp: np.ndarray) -> dict[tuple[int, ...], float]:
    """P(labelling) by summing every path (C**T of them)."""
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(logp.shape[1]), repeat=logp.shape[0]):
        label = tuple(i for i, _, _ in collapse(list(path)))
        totals[label] = totals.get(label, 0.0) + float(np.exp(sum(logp[t, c] for t, c in enumerate(path))))
    return totals


@pytest.mark.parametrize("seed", range(8))
def test_beam_search_finds_the_most_probable_labelling(seed):
    logp = random_logp(seed)
    truth = label_probabilities(logp)
    best = max(truth, key=truth.get)
    ids, score = prefix_beam_search(logp, beam_width=1000, prune=0.0)
    assert tuple(ids) == best
    assert score == pytest.approx(np.log(truth[best]), abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_a_margin_drops_prefixes_far_below_the_best(seed):
    logp = random_logp(seed, steps=8, classes=4)
    exact = prefix_beam_search(logp, beam_width=1000, prune=0.0)
    assert prefix_beam_search(logp, beam_width=1000, prune=0.0, margin=50.0) == exact  # nothing that far below
    assert prefix_beam_search(logp, 1000, 0.0, margin=0.0) == prefix_beam_search(logp, 1, 0.0)  # only the best


@pytest.mark.parametrize("seed", range(8))
def test_lexicon_returns_the_most_probable_word_of_the_list(seed):
    logp = random_logp(seed)
    truth = label_probabilities(logp)
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("ab"), size=rng.integers(1, 5))) for _ in range(6)]
    lexicon = Lexicon(words, CHARSET)
    ids, score = lexicon.best(logp)
    encoded = {tuple(CHARSET.encode(w)) for w in words}
    best = max(encoded, key=lambda w: truth.get(w, 0.0))
    assert tuple(ids) == best
    assert score == pytest.approx(np.log(truth[best]), abs=1e-9)


def test_lexicon_tries_case_variants_with_a_case_sensitive_charset():
    charset = Charset("OPENopen")
    lexicon = Lexicon(["open"], charset)
    assert lexicon.size == 3  # open, Open, OPEN


@pytest.mark.parametrize("seed", range(5))
def test_greedy_path_is_its_own_best_alignment(seed):
    logp = random_logp(seed, steps=12, classes=4, sharpness=3.0)
    symbols = collapse(logp.argmax(-1).tolist())
    ids = [i for i, _, _ in symbols]
    assert viterbi_alignment(logp, ids) == [(a, b) for _, a, b in symbols]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ids", [[1], [1, 1], [1, 2], [2, 1, 1], [1, 2, 1]])
def test_alignment_is_the_most_probable_path_of_the_labelling(seed, ids):
    logp = random_logp(seed, steps=6)
    paths = [path for path in itertools.product(range(logp.shape[1]), repeat=logp.shape[0])
             if [i for i, _, _ in collapse(list(path))] == ids]
    best = max(paths, key=lambda path: sum(logp[t, c] for t, c in enumerate(path)))
    assert viterbi_alignment(logp, ids) == [(a, b) for _, a, b in collapse(list(best))]


@pytest.mark.parametrize("seed", range(5))
def test_greedy_confidences_follow_the_documented_formula(seed):
    logp = np.stack([random_logp(seed * 10 + b, steps=12, classes=3, sharpness=3.0) for b in range(4)], axis=1)
    lengths = [12, 9, 5, 1]
    predictions = build_decoder("greedy", CHARSET)(torch.tensor(logp, dtype=torch.float32), torch.tensor(lengths))
    for b, (prediction, n) in enumerate(zip(predictions, lengths)):
        row = logp[:n, b].astype(np.float32)
        ids = [i for i, _, _ in collapse(row.argmax(-1).tolist())]
        expected = prediction_for(row, ids, CHARSET)
        assert prediction.text == expected.text and prediction.steps == expected.steps
        assert prediction.char_confidences == pytest.approx(expected.char_confidences, rel=1e-6)
        assert prediction.confidence == pytest.approx(expected.confidence, rel=1e-6)


def test_decoders_agree_on_a_clear_reading():
    charset = Charset("abc")
    path = [1, 1, 0, 2, 0, 2, 3, 0]  # "abbc"
    logp = np.full((len(path), 4), np.log(0.02))
    for t, c in enumerate(path):
        logp[t, c] = np.log(0.94)
    log_probs = torch.tensor(logp, dtype=torch.float32)[:, None, :]
    lengths = torch.tensor([len(path)])
    lexicon = Lexicon(["abc", "abbc", "cab"], charset)
    for decoder in (build_decoder("greedy", charset), build_decoder("beam", charset, beam_width=5),
                    build_decoder("lexicon", charset, lexicon=lexicon)):
        (prediction,) = decoder(log_probs, lengths)
        assert prediction.text == "abbc"
        assert prediction.confidence == pytest.approx(0.94**4, rel=1e-5)


def test_prediction_for_an_empty_reading_uses_blank_probabilities():
    logp = np.log(np.array([[0.9, 0.1], [0.8, 0.2]]))
    assert prediction_for(logp, [], Charset("a")).confidence == pytest.approx(0.72)
