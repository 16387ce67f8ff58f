"""Decoders as strategies: each turns a batch of log-probabilities into :class:`Prediction` s.

:func:`build_decoder` is the one place that checks a decoder's settings; the CLIs and the
:class:`~ocr.reading.recognizer.Recognizer` only pass them on. The algorithms themselves
(best path, prefix beam search, the lexicon trie, the letter-model prior) live in
:mod:`ocr.text.decoding`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from ocr.assets import DEFAULT_LM
from ocr.text.charset import Charset
from ocr.text.decoding import (BestPaths, LanguagePrior, Lexicon, Prediction, Steps, as_array, greedy_decode,
                               prediction_for, prefix_beam_search)
from ocr.text.language_model import CharNgram

DECODERS = ("lm", "greedy", "beam", "lexicon")


@dataclass(frozen=True)
class LmSettings:
    """The ``lm`` decoder's settings: chosen on 3,000 rendered words, never on benchmark
    photos (``python benchmarks/lm_settings.py`` reproduces the choice).

    A searched reading scores ``log P_ctc + weight * log P_letters + bonus * characters``.
    """

    threshold: float = 0.95  # words best path reads with lower confidence are searched again
    prune: float = 0.01  # characters below this probability at a step are not tried
    weight: float = 0.4  # of the letter model's log-probability
    bonus: float = 2.0  # per character: offsets the prior's pull towards short readings
    other: float = 0.05  # the probability a digit or symbol is charged (then weighted)
    margin: float = 5.0  # prefixes scoring this much below the best are dropped (the search keeps fewer)


class Decoder(Protocol):
    """What every decoder is: ``(T, B, C)`` log-probabilities and valid lengths -> predictions.

    ``word_starts``: per image, the steps where a new word may begin (gaps the recognizer saw
    in a text line); only the ``lm`` decoder uses them. ``best_paths``: per image, its
    best-path reading where the caller made it already, else None; the decoders that start
    from best path (``greedy``, ``lm``) keep those instead of decoding them again.
    """

    name: str

    def __call__(self, log_probs: Steps, lengths: Steps, word_starts: list[list[int]] | None = None,
                 best_paths: BestPaths = None) -> list[Prediction]: ...


class GreedyDecoder:
    """Best path: the most probable class at each step, collapsed."""

    name = "greedy"

    def __init__(self, charset: Charset) -> None:
        self.charset = charset

    def __call__(self, log_probs: Steps, lengths: Steps, word_starts=None, best_paths: BestPaths = None
                 ) -> list[Prediction]:
        return greedy_decode(log_probs, lengths, self.charset, best_paths)


class SearchDecoder:
    """Searches each image's steps on their own, in numpy: ``search(logp) -> class ids``
    (CTC prefix beam search for ``beam``, the lexicon trie for ``lexicon``)."""

    def __init__(self, name: str, charset: Charset, search: Callable[[np.ndarray], list[int]]) -> None:
        self.name, self.charset, self.search = name, charset, search

    def __call__(self, log_probs: Steps, lengths: Steps, word_starts=None, best_paths=None) -> list[Prediction]:
        batch = as_array(log_probs).transpose(1, 0, 2)
        return [prediction_for(logp[:n], self.search(logp[:n]), self.charset)
                for logp, n in zip(batch, lengths.tolist())]


class LmDecoder:
    """Best path first; each word it reads with confidence below ``settings.threshold`` is
    searched again by a CTC prefix beam search of ``width`` fused with a letter model
    (a :class:`CharNgram` or its file, loaded at the first such word)."""

    name = "lm"

    def __init__(self, charset: Charset, width: int, language_model: CharNgram | str | Path,
                 settings: LmSettings) -> None:
        self.charset, self.width, self.language_model, self.settings = charset, width, language_model, settings

    @cached_property
    def prior(self) -> LanguagePrior:
        """The letter-model prior, loaded on first use."""
        lm = self.language_model
        s = self.settings
        return LanguagePrior(lm if isinstance(lm, CharNgram) else CharNgram.load(lm), self.charset,
                             s.weight, s.bonus, s.other)

    def __call__(self, log_probs: Steps, lengths: Steps, word_starts: list[list[int]] | None = None,
                 best_paths: BestPaths = None) -> list[Prediction]:
        predictions = greedy_decode(log_probs, lengths, self.charset, best_paths)
        uncertain = [b for b, p in enumerate(predictions) if p.confidence < self.settings.threshold]
        if not uncertain:
            return predictions
        word_starts = word_starts or [[] for _ in predictions]
        batch = as_array(log_probs[:, uncertain]).transpose(1, 0, 2)
        for b, logp in zip(uncertain, batch):
            logp = logp[: int(lengths[b])]
            ids, _ = prefix_beam_search(logp, self.width, self.settings.prune, self.prior, word_starts[b],
                                        self.settings.margin)
            if self.charset.decode(ids) != predictions[b].text:
                predictions[b] = prediction_for(logp, ids, self.charset)
        return predictions


def build_decoder(name: str, charset: Charset, *, beam_width: int = 10,
                  lexicon: str | Path | Sequence[str] | Lexicon | None = None,
                  language_model: CharNgram | str | Path = DEFAULT_LM,
                  lm_settings: LmSettings = LmSettings()) -> Decoder:
    """The decoder ``name`` (one of :data:`DECODERS`), its settings checked here once.

    Raises ``ValueError`` with a one-line reason: an unknown name, a beam width below 1, no
    or an empty lexicon, a missing or unreadable letter model. A letter model other than the
    shipped one is loaded now, so a broken file fails here; the shipped one loads at the
    first uncertain word.
    """
    if name not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {name!r}")
    if name in ("beam", "lm") and (not isinstance(beam_width, int) or beam_width < 1):
        raise ValueError(f"beam width must be a whole number of at least 1, got {beam_width!r}")
    if name == "greedy":
        return GreedyDecoder(charset)
    if name == "beam":
        return SearchDecoder(name, charset, lambda logp: prefix_beam_search(logp, beam_width)[0])
    if name == "lexicon":
        words = _lexicon(lexicon, charset)
        return SearchDecoder(name, charset, lambda logp: words.best(logp)[0])
    if isinstance(language_model, (str, Path)) and not Path(language_model).is_file():
        raise ValueError(f"{language_model}: no such language model file (python -m ocr.text.build_language_model)")
    decoder = LmDecoder(charset, beam_width, language_model, lm_settings)
    if isinstance(language_model, (str, Path)) and Path(language_model) != DEFAULT_LM:
        decoder.prior  # noqa: B018  (a letter model the user names is checked now)
    return decoder


def _lexicon(lexicon: str | Path | Sequence[str] | Lexicon | None, charset: Charset) -> Lexicon:
    if lexicon is None:
        raise ValueError("the lexicon decoder needs a word list (--lexicon FILE)")
    if isinstance(lexicon, Lexicon):
        words = lexicon
    elif isinstance(lexicon, (str, Path)):
        if not Path(lexicon).is_file():
            raise ValueError(f"{lexicon}: no such lexicon file")
        words = Lexicon.from_file(str(lexicon), charset)
    else:
        words = Lexicon(list(lexicon), charset)
    if words.size == 0:
        raise ValueError(f"{lexicon if isinstance(lexicon, (str, Path)) else 'the lexicon'}: "
                         "no word of it can be written in the model's charset")
    return words
