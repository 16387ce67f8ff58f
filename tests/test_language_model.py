"""The English letter model and the ``lm`` decoder that fuses it into beam search."""
import gzip
import json
import math

import numpy as np
import pytest
import torch

from ocr.assets import DEFAULT_LM
from ocr.text.charset import Charset
from ocr.text.decoders import LmSettings, build_decoder
from ocr.text.decoding import LanguagePrior, prefix_beam_search
from ocr.text.language_model import END, START, CharNgram
from tests.conftest import random_logp

LETTERS = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def small_lm() -> CharNgram:
    return CharNgram.from_words([("cat", 5), ("car", 2), ("Dog's", 1), ("at", 3)], order=3)


@pytest.mark.parametrize("history", ["", "c", "ca", "do", "zq", "catcat"])
def test_next_letter_probabilities_sum_to_one(small_lm, history):
    context = small_lm.context(history)
    total = sum(math.exp(small_lm.log_prob(context, c)) for c in LETTERS + END)
    assert total == pytest.approx(1.0, abs=1e-9)


def test_letters_are_case_folded_and_unseen_spellings_keep_a_chance(small_lm):
    assert small_lm.word_log_prob("CAT") == small_lm.word_log_prob("cat")
    assert small_lm.word_log_prob("cat") > small_lm.word_log_prob("cxt") > -math.inf
    assert small_lm.word_log_prob("dog") > small_lm.word_log_prob("dgo")  # "Dog's" counted as "dog" and "s"


def test_a_saved_model_loads_with_the_same_probabilities(small_lm, tmp_path):
    path = tmp_path / "small.lm.npz"
    small_lm.save(path)
    loaded = CharNgram.load(path)
    for word in ("cat", "car", "dog", "tac", "xyz"):
        assert loaded.word_log_prob(word) == pytest.approx(small_lm.word_log_prob(word), rel=1e-3)


def test_letters_beyond_ascii_survive_saving(tmp_path):
    lm = CharNgram.from_words([("café", 2), ("naïve", 1)], order=3)
    path = tmp_path / "accents.lm.npz"
    lm.save(path)
    assert CharNgram.load(path).word_log_prob("café") == pytest.approx(lm.word_log_prob("café"), rel=1e-3)


def test_a_model_saved_as_counts_by_earlier_versions_still_loads(tmp_path):
    """Before 2026-12-06 a model was saved as gzipped JSON of its counts; such files still load."""
    counts = {START: {"a": 1.0}, "": {"a": 1.0, "b": 1.0, END: 1.0}, "a": {"b": 1.0}, "b": {END: 1.0}}
    path = tmp_path / "old.lm.json.gz"
    with gzip.open(path, "wt", encoding="ascii") as f:
        json.dump({"order": 2, "alphabet_size": 26, "followers": counts}, f)
    expected = CharNgram.from_words([("ab", 1.0)], order=2)
    for word in ("ab", "ba", "abab", "x"):
        assert CharNgram.load(path).word_log_prob(word) == pytest.approx(expected.word_log_prob(word), rel=1e-12)


def test_a_file_that_is_not_a_model_is_refused_naming_it(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8 not a language model")
    with pytest.raises(ValueError, match="photo.jpg: not a language model file"):
        CharNgram.load(path)


def test_the_shipped_model_prefers_english_spellings():
    lm = CharNgram.load(DEFAULT_LM)
    for word, misreading in [("simply", "sirnply"), ("hotel", "hotcl"), ("michael", "rnichael"), ("the", "thc")]:
        assert lm.word_log_prob(word) > lm.word_log_prob(misreading) + 3


@pytest.mark.parametrize("seed", range(6))
def test_a_prior_of_weight_zero_leaves_beam_search_unchanged(seed):
    charset = Charset("ab1")
    logp = random_logp(seed, steps=8, classes=4)
    prior = LanguagePrior(CharNgram.from_words([("ab", 1)], order=2), charset, weight=0.0, bonus=0.0, other=1.0)
    (ids, score), (plain_ids, plain_score) = prefix_beam_search(logp, 20, prior=prior), prefix_beam_search(logp, 20)
    assert ids == plain_ids and score == pytest.approx(plain_score, abs=1e-12)


def ambiguous_reading(charset: Charset, text: str, second: str, position: int, p_second: float) -> torch.Tensor:
    """(T, 1, C) log-probabilities reading ``text``, its character at ``position`` read as
    ``second`` with probability ``p_second`` (the rest of that step goes to the true character)."""
    steps = []
    for k, char in enumerate(text):
        row = np.full(charset.num_classes, 1e-6)
        if k == position:
            row[charset.encode(second)[0]], row[charset.encode(char)[0]] = p_second, 1 - p_second
        else:
            row[charset.encode(char)[0]] = 1.0
        steps += [row, np.eye(charset.num_classes)[0] + 1e-6]  # each character, then a blank
    logp = np.log(np.array(steps) / np.array(steps).sum(1, keepdims=True))
    return torch.tensor(logp, dtype=torch.float32)[:, None, :]


def test_the_lm_decoder_reads_an_uncertain_letter_as_the_english_word():
    charset = Charset(LETTERS + LETTERS.upper())
    lm = CharNgram.from_words([("hotel", 10), ("motel", 3), ("hello", 5)], order=4)
    log_probs = ambiguous_reading(charset, "HOTEL", "C", position=3, p_second=0.55)
    lengths = torch.tensor([log_probs.shape[0]])
    (greedy,) = build_decoder("greedy", charset)(log_probs, lengths)
    (read,) = build_decoder("lm", charset, language_model=lm)(log_probs, lengths)
    assert greedy.text == "HOTCL"
    assert read.text == "HOTEL"  # case from the image, spelling helped by the prior
    assert read.confidence == pytest.approx(0.45, rel=1e-3)  # the same confidence formula as every decoder


def test_the_lm_decoder_leaves_confident_readings_to_best_path():
    charset = Charset(LETTERS)
    lm = CharNgram.from_words([("hotel", 10)], order=4)
    log_probs = ambiguous_reading(charset, "hotel", "c", position=3, p_second=0.95)
    (read,) = build_decoder("lm", charset, language_model=lm, lm_settings=LmSettings(threshold=0.9))(log_probs, torch.tensor([10]))
    assert read.text == "hotcl"


def test_digits_and_symbols_are_not_read_as_letters_of_a_word():
    charset = Charset(LETTERS + "0123456789$.")
    lm = CharNgram.from_words([("price", 10), ("sale", 10)], order=3)
    prior = LanguagePrior(lm, charset, weight=1.0, bonus=0.0, other=0.1)
    state = prior.initial
    score = 0.0
    for c in charset.encode("sale$5"):
        added, state = prior.extend(state, c)
        score += added
    score += prior.end(state)
    # "sale" scored as a word, then two symbols at log(0.1) each, and no word left open
    assert score == pytest.approx(lm.word_log_prob("sale") + 2 * math.log(0.1))


def test_a_gap_in_a_text_line_lets_the_prior_start_a_new_word():
    charset = Charset(LETTERS + ":")
    lm = CharNgram.from_words([("hotel", 10), ("room", 10)], order=4)
    steps = []
    for char in "hotel" + ":" + "room":
        row = np.full(charset.num_classes, 1e-3)
        if char == ":":  # the gap between the words: blank, a faint colon
            row[0], row[charset.encode(":")[0]] = 1.0, 0.08
        else:
            row[charset.encode(char)[0]] = 1.0
        steps += [row, np.eye(charset.num_classes)[0] + 1e-3]
    log_probs = torch.tensor(np.log(np.array(steps) / np.array(steps).sum(1, keepdims=True)), dtype=torch.float32)
    log_probs, lengths = log_probs[:, None, :], torch.tensor([len(steps)])
    decoder = build_decoder("lm", charset, language_model=lm, lm_settings=LmSettings(threshold=1.01))
    (joined,) = decoder(log_probs, lengths)
    (split,) = decoder(log_probs, lengths, word_starts=[[11]])  # the gap: steps 10-11
    assert joined.text == "hotel:room"  # without the gap, only a symbol could end "hotel"
    assert split.text == "hotelroom"  # the recognizer then puts a space in the gap
    (one_word,) = decoder(ambiguous_reading(charset, "hotel", "c", 3, 0.55), torch.tensor([10]), word_starts=[[4]])
    assert one_word.text == "hotel"  # a gap inside a word costs nothing
