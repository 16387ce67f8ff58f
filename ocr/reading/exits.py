"""How the command-line tools end on a bad input: one ``error:`` line, exit code 2."""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from ocr.reading.loaded import CheckpointError

T = TypeVar("T")


def or_exit(job: Callable[[], T]) -> T:
    """``job()``; a bad checkpoint, file or value it meets is one ``error:`` line on stderr
    and exit code 2, no traceback."""
    try:
        return job()
    except (CheckpointError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
