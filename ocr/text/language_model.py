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
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

START, END = "\x02", "\x03"  # word boundaries; no charset holds control characters
LETTER_RUN = re.compile(r"[^\W\d_]+")
VOCABULARY, ORDER = 100000, 6  # the shipped model: wordfreq's 100,000 most frequent words, 6-grams
STORED_SCALE = 1000.0  # log-probabilities are saved in thousandths


class CharNgram:
    """Witten-Bell interpolated character n-gram model of words, held as the log-probabilities
    it interpolates to, so a look-up is one or two dictionary reads, not a walk down every
    order (the ``lm`` decoder asks for thousands per text).

    Args:
        log_probs: log P(char | context) for each character seen after a context (up to
            ``order - 1`` characters; a word starts with :data:`START`, :data:`END` ends it),
            keyed ``context + char``.
        backoffs: for each context seen, the log of the share of its probability the
            characters never seen after it get, spread as the next shorter context spreads it.
        order: characters of history plus one (``order=6``: five characters of history).
        alphabet_size: letters that can occur; the uniform floor spreads over these and END.
    """

    def __init__(self, log_probs: dict[str, float], backoffs: dict[str, float], order: int,
                 alphabet_size: int) -> None:
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        self.order, self.alphabet_size = order, alphabet_size
        self.log_floor = -math.log(alphabet_size + 1)
        self.log_probs, self.backoffs = log_probs, backoffs

    @classmethod
    def from_counts(cls, followers: dict[str, dict[str, float]], order: int, alphabet_size: int) -> "CharNgram":
        """From the weight of each character seen after each context: P(c | context) is
        ``(n(c) + d * P(c | shorter context)) / (n + d)``, with ``n`` the context's total weight
        and ``d`` its distinct followers; below the shortest, a uniform floor."""
        model = cls({}, {}, order, alphabet_size)
        for context in sorted(followers, key=len):  # the shorter contexts are complete first
            counts = followers[context]
            total, distinct = sum(counts.values()), len(counts)
            share = distinct / (total + distinct)
            model.backoffs[context] = math.log(share)
            for char, count in counts.items():
                lower = math.exp(model.log_prob(context[1:], char) if context else model.log_floor)
                model.log_probs[context + char] = math.log(count / (total + distinct) + share * lower)
        return model

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
        return cls.from_counts(followers, order, alphabet_size)

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
        """Write the model as a compressed numpy archive: the keys of each table as one
        newline-separated UTF-8 text, the log-probabilities as ``uint16`` thousandths of
        their negatives (to 0.0005; compressed, half the size of ``float32``)."""
        tables = {}
        for name, table in (("log_probs", self.log_probs), ("backoffs", self.backoffs)):
            values = np.fromiter(table.values(), dtype=np.float64, count=len(table))
            if len(values) and values.min() <= -np.iinfo(np.uint16).max / STORED_SCALE:
                raise ValueError(f"a log-probability of {values.min():.1f} cannot be stored")
            tables[f"{name}_keys"] = np.frombuffer("\n".join(table).encode("utf-8"), dtype=np.uint8)
            tables[name] = np.round(-STORED_SCALE * values).astype(np.uint16)
        with open(path, "wb") as f:  # a file object: numpy adds no ".npz" to the name
            np.savez_compressed(f, order=self.order, alphabet_size=self.alphabet_size, **tables)

    @classmethod
    def load(cls, path: str | Path) -> "CharNgram":
        """Read a model written by :meth:`save` (or a gzipped JSON of counts, as written before
        2026-12-06); raises ValueError naming ``path`` if it is not one."""
        try:
            with open(path, "rb") as f:
                gzipped = f.read(2) == b"\x1f\x8b"
            if gzipped:
                with gzip.open(path, "rt", encoding="ascii") as f:
                    data = json.load(f)
                return cls.from_counts(data["followers"], data["order"], data["alphabet_size"])
            with np.load(path, allow_pickle=False) as data:
                tables = [dict(zip(data[f"{name}_keys"].tobytes().decode("utf-8").split("\n"),
                                   (data[name] / -STORED_SCALE).tolist())) for name in ("log_probs", "backoffs")]
                return cls(*tables, int(data["order"]), int(data["alphabet_size"]))
        except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: not a language model file ({err})") from None

    def context(self, history: str) -> str:
        """What the model conditions on after the letters ``history`` of a word: its last letters."""
        return (START + history.lower())[-(self.order - 1):] if self.order > 1 else ""

    def next_context(self, context: str, char: str) -> str:
        """The context after ``char`` follows ``context``."""
        return (context + char.lower())[-(self.order - 1):] if self.order > 1 else ""

    def log_prob(self, context: str, char: str) -> float:
        """log P(``char`` | ``context``), a :meth:`context`; ``char`` may be :data:`END`."""
        char = char.lower()
        backoff = 0.0
        while (value := self.log_probs.get(context + char)) is None:
            backoff += self.backoffs.get(context, 0.0)  # a context never seen passes all on
            if not context:
                return backoff + self.log_floor
            context = context[1:]
        return backoff + value

    def word_log_prob(self, word: str) -> float:
        """log P(``word``), a run of letters, its end included."""
        return sum(self.log_prob(self.context(word[:i]), c) for i, c in enumerate(word + END))

