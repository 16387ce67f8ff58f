"""Reading a run's metrics.csv (:mod:`ocr.train.run_log` writes it) for plots and comparisons;
no Lightning or PyTorch, so the scripts that read runs start at once."""
from __future__ import annotations

import csv
from pathlib import Path

MINUTES_KEY = "time/minutes"  # training minutes so far, logged at each validation


def validation_rows(run: str | Path) -> list[dict[str, str]]:
    """One metrics.csv row per validation of ``run``, by step; a step logged twice (a session
    resumed from an earlier checkpoint) keeps its latest row."""
    by_step: dict[int, dict[str, str]] = {}
    with open(Path(run) / "metrics.csv") as f:
        for r in csv.DictReader(f):
            if any(k.endswith("/acc36") and v for k, v in r.items()):
                by_step[validation_step(r)] = r
    return [by_step[s] for s in sorted(by_step)]


def validation_step(row: dict[str, str]) -> int:
    """Training steps done at a validation (Lightning logs the index of the last step)."""
    return int(row["step"]) + 1


def accuracy_by_set(rows: list[dict[str, str]]) -> dict[str, list[float]]:
    """acc36 in percent per validation set (``val`` is the synthetic one), one value per row."""
    sets = sorted({k[: -len("/acc36")] for r in rows for k, v in r.items() if k.endswith("/acc36") and v})
    return {s: [100 * float(r[f"{s}/acc36"]) for r in rows] for s in sets}
