"""The numbers every reported score rests on: edit distance, CER, NED, coverage, merging totals."""
import pytest

from ocr.text.metrics import WordScores, accuracy_at_coverage, edit_distance


@pytest.mark.parametrize("a, b, distance", [
    ("", "", 0), ("abc", "", 3), ("", "abc", 3), ("kitten", "sitting", 3), ("flaw", "lawn", 2),
    ("Open", "open", 1), ("same", "same", 0), ("ab", "ba", 2),
])
def test_edit_distance_is_levenshtein_and_symmetric(a, b, distance):
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def test_word_scores_by_hand():
    scores = WordScores()
    scores.add("Open", "OPEN", 0.9)  # acc36 right (case folded), acc_cs wrong, 3 edits of 4
    scores.add("caf", "cafe", 0.5)  # one deletion
    scores.add("", "x", 0.1)  # empty reading
    s = scores.summary()
    assert s["words"] == 3
    assert s["acc36"] == pytest.approx(1 / 3) and s["acc_cs"] == 0.0
    assert s["cer"] == pytest.approx((3 + 1 + 1) / (4 + 4 + 1))
    assert s["ned"] == pytest.approx(((1 - 3 / 4) + (1 - 1 / 4) + 0.0) / 3)
    assert s["ned36"] == pytest.approx((1.0 + (1 - 1 / 4) + 0.0) / 3)  # case ignored
    assert s["confidence"] == pytest.approx(0.5)


def test_accuracy_at_coverage_keeps_the_most_confident_words():
    outcomes = [(0.9, True), (0.8, True), (0.2, False), (0.1, False)]
    assert accuracy_at_coverage(outcomes, 0.5) == 1.0
    assert accuracy_at_coverage(outcomes, 0.75) == pytest.approx(2 / 3)
    assert accuracy_at_coverage(outcomes, 1.0) == 0.5
    assert accuracy_at_coverage([], 0.9) == 0.0


def test_merged_totals_equal_scoring_all_words_at_once():
    pairs = [("Open", "OPEN", 0.9), ("caf", "cafe", 0.5), ("street", "street", 0.7), ("x", "", 0.2)]
    first, second, whole = WordScores(), WordScores(), WordScores()
    for i, (prediction, label, confidence) in enumerate(pairs):
        (first if i < 2 else second).add(prediction, label, confidence)
        whole.add(prediction, label, confidence)
    assert first.merge(second).summary() == whole.summary()
    assert WordScores().merge(first).summary() == first.summary()
