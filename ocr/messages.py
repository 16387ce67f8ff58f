"""One-line error messages: the part of a library's exception worth showing a user."""
from __future__ import annotations


def first_line(err: BaseException, longest: int = 120) -> str:
    """The first line of ``err``'s message (its type's name when it has none); of a line longer
    than ``longest``, its first sentence (the advice after it is for the library's own developers)."""
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line.split(". ")[0] if len(line) > longest else line
