"""Spaces from the gaps between words, for models trained on single words."""
import numpy as np

from ocr.reading.lines import batch_word_gaps, insert_spaces, word_gaps
from ocr.text.decoding import Prediction


def columns(pattern: str) -> list[bool]:
    """'#' ink, '.' blank."""
    return [c == "." for c in pattern]


def test_wide_gaps_part_words_and_letter_spacing_does_not():
    assert word_gaps(columns("..##.##.#.........##.#.##...."), height=32) == [13.5]
    assert word_gaps(columns("##......##......##......##"), height=32) == []  # S A L E: all gaps alike
    assert word_gaps(columns("......"), height=32) == []


def test_spaces_go_between_the_characters_on_either_side_of_a_gap():
    image = np.ones((1, 32, 64), np.float32)
    image[:, 4:28, 0:8] = -1  # "a" ink
    image[:, 4:28, 10:18] = -1  # "b"
    image[:, 4:28, 40:48] = -1  # "c", after a wide gap
    prediction = Prediction("abc", 0.5, [0.9, 0.8, 0.7], [(1, 1), (3, 3), (11, 11)])
    batch = np.concatenate([image, np.zeros((1, 32, 16), np.float32)], axis=-1)[None]  # padded to 80 columns
    gaps = batch_word_gaps(batch, np.array([64]))
    assert gaps == [[29.0]]
    spaced = insert_spaces(prediction, gaps[0])
    assert spaced.text == "ab c" and spaced.char_confidences == [0.9, 0.8, 1.0, 0.7]
    assert spaced.confidence == 0.5 and len(spaced.steps) == 4


def test_images_without_a_wide_blank_run_have_no_gaps_and_padding_is_not_one():
    word = -np.ones((2, 1, 32, 40), np.float32)
    word[:, :, :, ::3] = 1  # ink every third column: letter gaps only
    word[1, :, :, 20:] = 0  # the second image is 20 columns wide, the rest padding
    assert batch_word_gaps(word, np.array([40, 20])) == [[], []]


def test_the_batch_pre_check_never_skips_a_gap_the_full_search_finds():
    rng = np.random.default_rng(0)
    patterns = (rng.random((200, 60)) < rng.random((200, 1))).tolist()  # True: blank
    images = np.ones((len(patterns), 1, 32, 60), np.float32)
    for row, pattern in enumerate(patterns):
        for x, blank in enumerate(pattern):
            if not blank:
                images[row, 0, 8:24, x] = -1  # ink: this column's values span the image's range
    found = batch_word_gaps(images, np.full(len(patterns), 60))
    assert found == [word_gaps(p, height=32) for p in patterns]
    assert sum(map(bool, found)) > 10  # the patterns do contain word gaps
