"""The one place that knows how text maps to class ids and back.

Class 0 is the CTC blank; character ``chars[i]`` has class ``i + 1``.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable

BLANK = 0


class UnknownCharacterError(ValueError):
    """A label holds a character the charset cannot represent."""


class Charset:
    """An ordered set of characters plus the rules that normalise labels into it.

    Args:
        chars: the characters, each once, in class order.
        case_sensitive: if False, labels are lower-cased before lookup and ``chars``
            must be lower case.
        unknown: ``"drop"`` removes characters outside the set (and counts them in
            :attr:`dropped`); ``"error"`` raises :class:`UnknownCharacterError`.
    """

    def __init__(self, chars: str, case_sensitive: bool = True, unknown: str = "drop") -> None:
        if len(set(chars)) != len(chars):
            raise ValueError(f"charset has repeated characters: {chars!r}")
        if unknown not in ("drop", "error"):
            raise ValueError(f"charset.unknown must be 'drop' or 'error', got {unknown!r}")
        if not case_sensitive and chars != chars.lower():
            raise ValueError("a case-insensitive charset must be written in lower case")
        self.chars = chars
        self.case_sensitive = case_sensitive
        self.unknown = unknown
        self._index = {c: i + 1 for i, c in enumerate(chars)}
        self.dropped: Counter[str] = Counter()

    @property
    def num_classes(self) -> int:
        """Number of output classes, blank included."""
        return len(self.chars) + 1

    def normalize(self, text: str) -> str:
        """Map a raw label into the charset: NFC, case folding, accent stripping, unknowns."""
        text = unicodedata.normalize("NFC", text)
        if not self.case_sensitive:
            text = text.lower()
        out = []
        for ch in text:
            if ch not in self._index:
                ch = _strip_accents(ch)
            if ch in self._index:
                out.append(ch)
            elif self.unknown == "error":
                raise UnknownCharacterError(f"character {ch!r} in label {text!r} is not in the charset")
            else:
                self.dropped[ch] += 1
        return "".join(out)

    def encode(self, text: str) -> list[int]:
        """Class ids of an already normalised text."""
        try:
            return [self._index[c] for c in text]
        except KeyError as err:
            raise UnknownCharacterError(f"character {err.args[0]!r} in {text!r} is not in the charset") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of a sequence of class ids; blanks are skipped, nothing is collapsed."""
        return "".join(self.chars[i - 1] for i in ids if i != BLANK)

    def to_config(self) -> dict:
        """A plain dict that :meth:`from_config` turns back into an equal charset."""
        return {"chars": self.chars, "case_sensitive": self.case_sensitive, "unknown": self.unknown}

    @classmethod
    def from_config(cls, cfg: dict) -> "Charset":
        return cls(cfg["chars"], cfg.get("case_sensitive", True), cfg.get("unknown", "drop"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Charset) and self.to_config() == other.to_config()

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"Charset({len(self.chars)} chars, case_sensitive={self.case_sensitive})"


def _strip_accents(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize36(text: str) -> str:
    """The benchmark convention: NFKD, drop combining marks, lower case, keep ``[a-z0-9]``."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c for c in text.lower() if c.isascii() and c.isalnum())


def charset_warning(dropped: Counter[str], limit: int = 10) -> str | None:
    """A one-line summary of the characters a charset dropped, or None if none were."""
    if not dropped:
        return None
    top = ", ".join(f"{ch!r}x{n}" for ch, n in dropped.most_common(limit))
    return f"dropped {sum(dropped.values())} label characters outside the charset: {top}"

