"""A character n-gram model of words (English by default): the language prior of the ``lm`` decoder.

It scores runs of letters, case-folded ("Salutes", "SALUTES" and "salutes" score the same,
so the recognizer alone decides the case). Probabilities are Witten-Bell interpolated down to
a uniform distribution over the letters, so any spelling (names, brands) keeps a non-zero
probability.

``python -m ocr.text.build_language_model`` builds the shipped English model from wordfreq's word
list (data CC-BY-SA 4.0, Robyn Speer and contributors).
"""
from __future__ import annotations

import gzip
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

START, END = "\x02", "\x03"  # word boundaries; no charset holds control characters
LETTER_RUN = re.compile(r"[^\W\d_]+")
VOCABULARY, ORDER = 100000, 6  # the shipped model: wordfreq's 100,000 most frequent words, 6-grams


class CharNgram:
    """Witten-Bell interpolated character n-gram model of words.

    Args:
        followers: for each context (up to ``order - 1`` characters, a word starting with
            :data:`START`), the weight of each character seen after it (:data:`END` ends a word).
        order: characters of history plus one (``order=6``: five characters of history).
        alphabet_size: letters that can occur; the uniform floor spreads over these and END.
    """

    def __init__(self, followers: dict[str, dict[str, float]], order: int, alphabet_size: int) -> None:
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        self.order, self.alphabet_size = order, alphabet_size
        self.floor = 1.0 / (alphabet_size + 1)
        self.followers = followers
        # context -> (total weight, distinct followers, follower weights)
        self._stats = {ctx: (sum(f.values()), len(f), f) for ctx, f in followers.items()}
        self.log_prob = lru_cache(maxsize=1 << 18)(self._log_prob)

    @classmethod
    def from_words(cls, words: Iterable[tuple[str, float]], order: int, alphabet_size: int = 26) -> "CharNgram":
        """Count ``(word, weight)`` pairs: each run of letters in a word counts as a word,
        ``weight`` times."""
        followers: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for word, weight in words:
            for run in LETTER_RUN.findall(word.lower()):
                text = START + run + END
                for i in range(1, len(text)):
                    for start in range(max(0, i - order + 1), i + 1):
                        followers[text[start:i]][text[i]] += weight
        return cls({ctx: dict(f) for ctx, f in followers.items()}, order, alphabet_size)

    @classmethod
    def from_wordfreq(cls, language: str = "en", vocabulary_size: int = VOCABULARY, order: int = ORDER,
                      flatten: float = 0.5) -> "CharNgram":
        """From wordfreq's ``vocabulary_size`` most frequent words of ``language``, each weighted
        by its frequency to the power ``flatten`` (0.5: rare words count more than in running
        text, as on signs), scaled so the rarest counts once."""
        from wordfreq import top_n_list, word_frequency

        words = top_n_list(language, vocabulary_size)
        if not words:
            raise ValueError(f"wordfreq has no word list for language {language!r}")
        weights = [word_frequency(w, language) ** flatten for w in words]
        smallest = min(w for w in weights if w > 0)
        return cls.from_words(((w, f / smallest) for w, f in zip(words, weights) if f > 0), order)

    def save(self, path: str | Path) -> None:
        """Write the model as gzipped JSON (weights to four significant digits)."""
        followers = {ctx: {c: float(f"{w:.4g}") for c, w in f.items()} for ctx, f in self.followers.items()}
        data = {"order": self.order, "alphabet_size": self.alphabet_size, "followers": followers}
        with gzip.open(path, "wt", encoding="ascii") as f:
            json.dump(data, f, separators=(",", ":"))

    @classmethod
    def load(cls, path: str | Path) -> "CharNgram":
        """Read a model written by :meth:`save`; raises ValueError naming ``path`` if it is not one."""
        try:
            with gzip.open(path, "rt", encoding="ascii") as f:
                data = json.load(f)
            return cls(data["followers"], data["order"], data["alphabet_size"])
        except (OSError, EOFError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a language model file ({err})") from None

    def context(self, history: str) -> str:
        """What the model conditions on after the letters ``history`` of a word: its last letters."""
        return (START + history.lower())[-(self.order - 1):] if self.order > 1 else ""

    def next_context(self, context: str, char: str) -> str:
        """The context after ``char`` follows ``context``."""
        return (context + char.lower())[-(self.order - 1):] if self.order > 1 else ""

    def _log_prob(self, context: str, char: str) -> float:
        """log P(``char`` | ``context``), a :meth:`context`; ``char`` may be :data:`END`."""
        return math.log(self._prob(context, char.lower()))

    def _prob(self, context: str, char: str) -> float:
        lower = self._prob(context[1:], char) if context else self.floor
        stats = self._stats.get(context)
        if stats is None:
            return lower
        total, distinct, counts = stats
        return (counts.get(char, 0.0) + distinct * lower) / (total + distinct)

    def word_log_prob(self, word: str) -> float:
        """log P(``word``), a run of letters, its end included."""
        return sum(self.log_prob(self.context(word[:i]), c) for i, c in enumerate(word + END))

