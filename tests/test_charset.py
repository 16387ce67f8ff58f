import pytest

from ocr.text.charset import BLANK, Charset, UnknownCharacterError, normalize36
from tests.conftest import tiny_config


def charset_from(name: str) -> Charset:
    return Charset.from_config(dict(tiny_config(f"charset={name}").charset))


@pytest.mark.parametrize("name, size", [("lower36", 36), ("printable94", 94)])
def test_charset_configs_round_trip(name, size):
    charset = charset_from(name)
    assert len(charset) == size and charset.num_classes == size + 1
    text = charset.chars[::-1]
    ids = charset.encode(text)
    assert BLANK not in ids
    assert charset.decode(ids) == text
    assert Charset.from_config(charset.to_config()) == charset


def test_case_insensitive_charset_folds_case_and_accents():
    charset = charset_from("lower36")
    assert charset.normalize("Café-2") == "cafe2"
    assert charset.dropped["-"] == 1


def test_printable_charset_keeps_case_and_punctuation():
    assert charset_from("printable94").normalize("Salutes!") == "Salutes!"


def test_unknown_character_policy_error():
    charset = Charset("abc", unknown="error")
    with pytest.raises(UnknownCharacterError, match="'z'"):
        charset.normalize("abz")


def test_blank_is_skipped_when_decoding():
    charset = Charset("ab")
    assert charset.decode([1, BLANK, 2, BLANK]) == "ab"


def test_normalize36_is_the_benchmark_convention():
    assert normalize36("Café, 24h!") == "cafe24h"
