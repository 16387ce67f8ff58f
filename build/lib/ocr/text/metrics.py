"""Word accuracy, character error rate and normalised edit distance."""
from __future__ import annotations

from dataclasses import dataclass, field

from ocr.text.charset import normalize36


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass
class WordScores:
    """Running totals over (prediction, label) pairs; all rates are fractions in [0, 1]."""

    words: int = 0
    correct36: int = 0
    correct_cs: int = 0
    ned_sum: float = 0.0
    ned36_sum: float = 0.0
    char_edits: int = 0
    label_chars: int = 0
    confidence_sum: float = 0.0
    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (confidence, acc36 correct)

    def add(self, prediction: str, label: str, confidence: float = 0.0) -> None:
        p36, l36 = normalize36(prediction), normalize36(label)
        self.words += 1
        self.correct36 += p36 == l36
        self.correct_cs += prediction == label
        dist = edit_distance(prediction, label)
        self.ned_sum += 1.0 - dist / max(len(prediction), len(label), 1)
        self.ned36_sum += 1.0 - edit_distance(p36, l36) / max(len(p36), len(l36), 1)
        self.char_edits += dist
        self.label_chars += len(label)
        self.confidence_sum += confidence
        self.outcomes.append((confidence, p36 == l36))

    def merge(self, other: "WordScores") -> "WordScores":
        """Totals of both, for word-weighted summary rows."""
        fields = ("words", "correct36", "correct_cs", "ned_sum", "ned36_sum", "char_edits", "label_chars",
                  "confidence_sum")
        merged = WordScores(**{f: getattr(self, f) + getattr(other, f) for f in fields})
        merged.outcomes = self.outcomes + other.outcomes
        return merged

    def summary(self) -> dict[str, float]:
        n = max(self.words, 1)
        return {
            "words": self.words,
            "acc36": self.correct36 / n,
            "acc_cs": self.correct_cs / n,
            "ned": self.ned_sum / n,  # case-sensitive, on the texts as they are
            "ned36": self.ned36_sum / n,  # on the 36-character forms: case and punctuation ignored
            "cer": self.char_edits / max(self.label_chars, 1),
            "confidence": self.confidence_sum / n,
            "acc36_cov95": accuracy_at_coverage(self.outcomes, 0.95),
            "acc36_cov90": accuracy_at_coverage(self.outcomes, 0.90),
        }


def accuracy_at_coverage(outcomes: list[tuple[float, bool]], coverage: float) -> float:
    """Accuracy over the ``coverage`` fraction of words read with the highest confidence,
    i.e. after rejecting the least confident ``1 - coverage``."""
    if not outcomes:
        return 0.0
    kept = sorted(outcomes, key=lambda o: -o[0])[: max(1, round(coverage * len(outcomes)))]
    return sum(correct for _, correct in kept) / len(kept)
