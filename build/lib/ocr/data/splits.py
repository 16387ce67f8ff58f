"""Fixed, seeded hold-out splits of labelled folders.

Each image is ranked by a SHA-256 hash of ``seed`` and its path relative to the folder;
the lowest-ranked ``round(fraction * n)`` images are held out. The split depends only on
the seed and the file names, never on the order of ``labels.tsv`` or on the machine, so
training (``data.holdout``) and scoring (``evaluate.py --holdout``) agree on it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

Item = TypeVar("Item", bound=tuple)


def _rank(relative: str, seed: int) -> bytes:
    return hashlib.sha256(f"{seed}/{relative}".encode()).digest()


def holdout_split(items: Sequence[Item], root: str | Path, fraction: float,
                  seed: int = 0) -> tuple[list[Item], list[Item]]:
    """``(training part, held-out part)`` of the ``(image path, ...)`` items of folder ``root``."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction}")
    root = Path(root)
    ranked = sorted(range(len(items)), key=lambda i: _rank(Path(items[i][0]).relative_to(root).as_posix(), seed))
    held = set(ranked[: round(fraction * len(items))])
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]
