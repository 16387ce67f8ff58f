"""The words the renderers draw: English words, numbers, dates, prices and random strings."""
from __future__ import annotations

import math
import random
from itertools import accumulate

from ocr.assets import WORD_BLOCKLIST
from ocr.text.charset import Charset


class TextSampler:
    """English words in lower, Title or UPPER case, plus random strings (``p_random``, lengths
    in ``random_length``, a ``random_symbols`` share of their characters are punctuation and
    symbols, the rest letters and digits), numbers (``p_number``), dates, times, prices and codes
    (``p_formatted``) and words with punctuation attached (``p_punctuated``).

    Words are drawn by frequency (wordfreq, flattened), or uniformly with ``p_uniform`` so
    that rare words appear.

    The settings come from ``data.synth.text`` (``configs/data/synth.yaml``). Only texts
    whose every character survives ``charset.normalize`` unchanged in length are produced,
    so character extents always line up with the label.
    """

    def __init__(
        self,
        charset: Charset,
        *,
        vocabulary_size: int,
        p_random: float,
        p_number: float,
        case_weights: tuple[float, float, float],
        max_length: int,
        random_length: tuple[int, int],
        random_symbols: float,
        p_formatted: float,
        p_punctuated: float,
        p_uniform: float,
    ) -> None:
        from wordfreq import top_n_list

        self.charset = charset
        alphabet = set(charset.chars) | {c.upper() for c in charset.chars}
        blocked = blocked_words()
        words = [w for w in top_n_list("en", vocabulary_size)
                 if set(w) <= alphabet and len(w) <= max_length and w not in blocked]
        if not words:
            raise ValueError("no wordfreq word fits the charset")
        self.words = words
        # Zipf-like weights by rank, flattened (power 0.5) so that rare words appear too.
        self.cum_weights = list(accumulate(1.0 / math.sqrt(rank + 1) for rank in range(len(words))))
        self.alphanumerics = "".join(sorted(c for c in alphabet if c.isalnum()))
        self.symbols = "".join(sorted(c for c in alphabet if not c.isalnum()))
        self.random_symbols = random_symbols
        self.p_random, self.p_number, self.case_weights = p_random, p_number, case_weights
        self.random_length = random_length
        self.p_formatted, self.p_punctuated, self.p_uniform = p_formatted, p_punctuated, p_uniform

    def sample(self, rng: random.Random) -> str:
        r = rng.random()
        if r < self.p_random:
            text = "".join(self._random_char(rng) for _ in range(rng.randint(*self.random_length)))
        elif (r := r - self.p_random) < self.p_number:
            text = str(rng.randint(0, 10 ** rng.randint(1, 6)))
        elif (r := r - self.p_number) < self.p_formatted:
            text = rng.choice(FORMATS)(rng)
        else:
            text = self._word(rng)
            if r - self.p_formatted < self.p_punctuated:
                text = rng.choice(PUNCTUATION).format(text)
        if len(self.charset.normalize(text)) != len(text):
            text = "".join(c for c in text if self.charset.normalize(c))
        return text or rng.choice(self.words)

    def _random_char(self, rng: random.Random) -> str:
        use_symbol = self.symbols and (not self.alphanumerics or rng.random() < self.random_symbols)
        return rng.choice(self.symbols if use_symbol else self.alphanumerics)

    def _word(self, rng: random.Random) -> str:
        if rng.random() < self.p_uniform:
            word = rng.choice(self.words)
        else:
            word = rng.choices(self.words, cum_weights=self.cum_weights)[0]
        return rng.choices((str.lower, str.title, str.upper), weights=self.case_weights)[0](word)


FORMATS = (
    lambda r: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(1950, 2035)}",  # date
    lambda r: f"{r.randint(1950, 2035)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",  # ISO date
    lambda r: f"{r.randint(0, 23)}:{r.randint(0, 59):02d}",  # time
    lambda r: f"${r.randint(0, 999)}.{r.randint(0, 99):02d}",  # price
    lambda r: f"{r.randint(1, 99)}%",  # percentage
    lambda r: f"{r.randint(100, 999)}-{r.randint(1000, 9999)}",  # phone-like
    lambda r: f"#{r.randint(1, 999)}",  # number sign
)
PUNCTUATION = ("{}!", "{}.", "{},", "{}?", "{}:", "({})", "\"{}\"", "{}'s", "'{}'", "{}-", "&{}", "@{}")


def blocked_words() -> frozenset[str]:
    """The words of ``data/words/blocklist.txt`` (offensive words wordfreq lists), never rendered."""
    lines = WORD_BLOCKLIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
