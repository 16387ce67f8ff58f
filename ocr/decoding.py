"""Turn per-step log-probabilities into text and confidence.

Decoders (``greedy``, ``beam``, ``lexicon``) choose the text; confidence is computed the
same way for all of them: the text's best alignment to the steps (Viterbi) assigns each
character a run of steps, the character's confidence is the highest probability of that
character among its steps, and the word's confidence is the product of its characters'
confidences (for an empty reading: the product of the blank probabilities).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor

from ocr.charset import BLANK, Charset


@dataclass
class Prediction:
    """One image's reading."""

    text: str
    confidence: float
    char_confidences: list[float] = field(default_factory=list)
    steps: list[tuple[int, int]] = field(default_factory=list)  # (first, last) time step of each character


def collapse(ids: list[int]) -> list[tuple[int, int, int]]:
    """CTC collapse rule: runs of one class become one symbol, blanks vanish.

    Returns ``(class_id, first_step, last_step)`` per emitted symbol.
    """
    out: list[tuple[int, int, int]] = []
    prev = BLANK
    for t, i in enumerate(ids):
        if i != BLANK:
            if i == prev:
                out[-1] = (i, out[-1][1], t)
            else:
                out.append((i, t, t))
        prev = i
    return out


def viterbi_alignment(logp: np.ndarray, ids: list[int]) -> list[tuple[int, int]]:
    """The most probable CTC alignment of ``ids`` to ``logp`` (T, C): ``(first, last)`` step per character."""
    steps, n = logp.shape[0], len(ids)
    if n == 0:
        return []
    ext = [BLANK]
    for i in ids:
        ext += [i, BLANK]
    states = len(ext)
    score = np.full((steps, states), -np.inf)
    back = np.zeros((steps, states), dtype=np.int64)
    score[0, 0], score[0, 1] = logp[0, ext[0]], logp[0, ext[1]]
    for t in range(1, steps):
        for s in range(states):
            options = [(score[t - 1, s], s)]
            if s >= 1:
                options.append((score[t - 1, s - 1], s - 1))
            if s >= 2 and ext[s] != BLANK and ext[s] != ext[s - 2]:
                options.append((score[t - 1, s - 2], s - 2))
            best, arg = max(options)
            score[t, s], back[t, s] = best + logp[t, ext[s]], arg
    s = states - 1 if score[-1, states - 1] >= score[-1, states - 2] else states - 2
    spans: dict[int, list[int]] = {}
    for t in range(steps - 1, -1, -1):
        if ext[s] != BLANK:
            spans.setdefault((s - 1) // 2, []).append(t)
        s = back[t, s]
    return [(min(spans[k]), max(spans[k])) for k in range(n)]


def prediction_for(logp: np.ndarray, ids: list[int], charset: Charset, spans: list[tuple[int, int]] | None = None) -> Prediction:
    """A :class:`Prediction` for chosen ``ids``, with the module's confidence formula."""
    if spans is None:
        spans = viterbi_alignment(logp, ids)
    if not ids:
        return Prediction("", float(np.exp(logp[:, BLANK].sum())), [])
    return _prediction(ids, spans, [float(logp[a : b + 1, i].max()) for i, (a, b) in zip(ids, spans)], charset)


def _prediction(ids: list[int], spans: list[tuple[int, int]], char_logps: list[float], charset: Charset) -> Prediction:
    chars = [math.exp(v) for v in char_logps]
    return Prediction(charset.decode(ids), math.prod(chars), chars, list(spans))


def greedy_decode(log_probs: Tensor, lengths: Tensor, charset: Charset) -> list[Prediction]:
    """Best-path decoding of ``(T, B, C)`` log-probabilities; ``lengths`` are valid steps.

    A best-path character's confidence is its highest probability over its run of steps,
    where it is the most probable class at each step: the running maxima suffice."""
    steps = log_probs.detach().float().cpu().numpy()  # (T, B, C): argmax along contiguous rows
    best = steps.argmax(-1)
    best_logp = np.take_along_axis(steps, best[..., None], -1)[..., 0]
    predictions = []
    for b, (path, path_logp, n) in enumerate(zip(best.T.tolist(), best_logp.T.tolist(), lengths.tolist())):
        symbols = collapse(path[:n])
        if not symbols:
            predictions.append(prediction_for(steps[:n, b], [], charset))
            continue
        spans = [(first, last) for _, first, last in symbols]
        char_logps = [max(path_logp[first : last + 1]) for first, last in spans]
        predictions.append(_prediction([i for i, _, _ in symbols], spans, char_logps, charset))
    return predictions


def prefix_beam_search(logp: np.ndarray, beam_width: int = 10, prune: float = 1e-3) -> tuple[list[int], float]:
    """CTC prefix beam search over ``logp`` (T, C); returns the best labelling and its log-probability.

    Characters with probability below ``prune`` at a step are not tried as extensions there.
    With a wide enough beam and ``prune=0`` it finds the most probable labelling exactly.
    """
    neg_inf = -np.inf
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, neg_inf)}  # prefix: (log p blank-ended, non-blank)
    log_prune = np.log(prune) if prune > 0 else neg_inf
    for t in range(logp.shape[0]):
        row = logp[t]
        candidates = [c for c in np.nonzero(row > log_prune)[0].tolist() if c != BLANK]
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix: tuple[int, ...], blank_ended: bool, value: float) -> None:
            entry = nxt.setdefault(prefix, [neg_inf, neg_inf])
            entry[not blank_ended] = np.logaddexp(entry[not blank_ended], value)

        for prefix, (pb, pnb) in beams.items():
            total = np.logaddexp(pb, pnb)
            add(prefix, True, total + row[BLANK])
            if prefix:
                add(prefix, False, pnb + row[prefix[-1]])  # the last character repeated
            for c in candidates:
                source = pb if prefix and c == prefix[-1] else total
                add(prefix + (c,), False, source + row[c])
        ranked = sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:beam_width]
        beams = {prefix: (pb, pnb) for prefix, (pb, pnb) in ranked}
    best, (pb, pnb) = max(beams.items(), key=lambda kv: np.logaddexp(*kv[1]))
    return list(best), float(np.logaddexp(pb, pnb))


class _TrieNode:
    __slots__ = ("children", "word")

    def __init__(self) -> None:
        self.children: dict[int, _TrieNode] = {}
        self.word: tuple[int, ...] | None = None


class Lexicon:
    """A word list as a trie of class ids, searched with CTC prefix probabilities.

    With a case-sensitive charset each word is also tried in lower, Title and UPPER case.
    """

    def __init__(self, words: list[str], charset: Charset) -> None:
        self.root = _TrieNode()
        self.size = 0
        for word in words:
            variants = {word, word.lower(), word.title(), word.upper()} if charset.case_sensitive else {word}
            for variant in variants:
                text = charset.normalize(variant)
                if text and len(text) == len(variant):
                    self._insert(tuple(charset.encode(text)))

    @classmethod
    def from_file(cls, path: str, charset: Charset) -> "Lexicon":
        """One word per line (UTF-8); blank lines ignored."""
        with open(path, encoding="utf-8-sig") as f:
            return cls([line.strip() for line in f if line.strip()], charset)

    def _insert(self, ids: tuple[int, ...]) -> None:
        node = self.root
        for i in ids:
            node = node.children.setdefault(i, _TrieNode())
        if node.word is None:
            node.word = ids
            self.size += 1

    def best(self, logp: np.ndarray, max_nodes: int = 50000) -> tuple[list[int], float]:
        """The lexicon word with the highest CTC probability under ``logp`` (T, C), and its log-probability.

        Best-first over the trie: a prefix's probability bounds every word below it, so
        branches that cannot beat the best word found so far are never expanded.
        """
        probs = np.exp(logp.astype(np.float64)).tolist()
        steps = len(probs)
        blank = [row[BLANK] for row in probs]
        gb, acc = [], 1.0
        for b in blank:
            acc *= b
            gb.append(acc)
        best_ids, best_p = None, 0.0
        frontier = [(-1.0, 0, self.root, (gb, [0.0] * steps, None))]  # (-bound, tie-break, node, state)
        visited, counter = 0, 1
        while frontier and visited < max_nodes:
            neg_bound, _, node, (nb, nn, last) = heapq.heappop(frontier)
            if -neg_bound <= best_p:
                break
            visited += 1
            for c, child in node.children.items():
                emit = [row[c] for row in probs]
                cb, cn, prefix_p = _extend(nb, nn, last, c, emit, blank, node is self.root)
                if child.word is not None and cn[-1] + cb[-1] > best_p:
                    best_ids, best_p = list(child.word), cn[-1] + cb[-1]
                if child.children and prefix_p > best_p:
                    heapq.heappush(frontier, (-prefix_p, counter, child, (cb, cn, c)))
                    counter += 1
        if best_ids is None:
            return [], float("-inf")
        return best_ids, float(np.log(best_p)) if best_p > 0 else float("-inf")


def _extend(gb: list[float], gn: list[float], last: int | None, c: int, emit: list[float], blank: list[float],
            at_root: bool) -> tuple[list[float], list[float], float]:
    """CTC forward variables of ``prefix + c`` from those of ``prefix``.

    ``gb[t]``/``gn[t]``: probability that after steps 0..t exactly the prefix was emitted,
    ending in a blank / in its last character. Returns the new pair and the probability
    that the labelling starts with ``prefix + c`` (an upper bound for its extensions).
    """
    steps = len(emit)
    nb, nn = [0.0] * steps, [0.0] * steps
    prefix_p = 0.0
    prev_n = prev_b = 0.0
    for t in range(steps):
        if t == 0:
            start = 1.0 if at_root else 0.0
        else:
            start = gb[t - 1] + (gn[t - 1] if c != last else 0.0)
        first = emit[t] * start
        prefix_p += first
        prev_n = first + emit[t] * prev_n
        prev_b = blank[t] * (prev_b + (nn[t - 1] if t else 0.0))
        nn[t], nb[t] = prev_n, prev_b
    return nb, nn, prefix_p


class Decoder:
    """Decode a batch with ``greedy``, ``beam`` (``beam_width``) or ``lexicon`` (a :class:`Lexicon`)."""

    def __init__(self, charset: Charset, name: str = "greedy", beam_width: int = 10, lexicon: Lexicon | None = None):
        if name not in ("greedy", "beam", "lexicon"):
            raise ValueError(f"decoder must be greedy, beam or lexicon, got {name!r}")
        if name == "lexicon" and lexicon is None:
            raise ValueError("the lexicon decoder needs a word list (--lexicon FILE)")
        self.charset, self.name, self.beam_width, self.lexicon = charset, name, beam_width, lexicon

    def __call__(self, log_probs: Tensor, lengths: Tensor) -> list[Prediction]:
        if self.name == "greedy":
            return greedy_decode(log_probs, lengths, self.charset)
        batch = log_probs.detach().float().permute(1, 0, 2).cpu().numpy()
        predictions = []
        for logp, n in zip(batch, lengths.tolist()):
            logp = logp[:n]
            if self.name == "beam":
                ids, _ = prefix_beam_search(logp, self.beam_width)
            else:
                ids, _ = self.lexicon.best(logp)
            predictions.append(prediction_for(logp, ids, self.charset))
        return predictions
