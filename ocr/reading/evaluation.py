"""Score a recognizer on labelled folders (``images/`` + ``labels.tsv``)."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from ocr.data.labels import DatasetError, read_label_file
from ocr.data.splits import holdout_split
from ocr.data.transforms import ImageLoadError
from ocr.reading.recognizer import Recognizer
from ocr.text.charset import normalize36
from ocr.text.metrics import WordScores

log = logging.getLogger(__name__)
COLUMNS = ("words", "acc36", "acc_cs", "ned", "ned36", "confidence", "acc36_cov95", "acc36_cov90", "images_per_s")


class Misreading(NamedTuple):
    """A word read wrong under acc36."""

    path: Path
    label: str
    text: str
    confidence: float


def evaluate_folder(recognizer: Recognizer, folder: str | Path, misreadings: list[Misreading] | None = None,
                    holdout: float | None = None, holdout_seed: int = 0) -> tuple[WordScores, float]:
    """Scores over every labelled image of ``folder`` and the seconds reading took; words read
    wrong (acc36) are appended to ``misreadings`` when given.

    With ``holdout``, only the images that training with ``data.holdout=holdout`` and
    ``data.holdout_seed=holdout_seed`` kept out are scored. An unreadable image counts as an
    empty (wrong) reading and is logged.
    """
    items = read_label_file(folder)
    if holdout:
        _, items = holdout_split(items, folder, holdout, holdout_seed)
    scores = WordScores()
    start = time.perf_counter()
    results = recognizer.read_each([path for path, _ in items])
    progress = tqdm(results, total=len(items), desc=Path(folder).name, unit="img",
                    disable=len(items) < 256 or not sys.stderr.isatty())  # as predict.py
    for (path, label), (_, result) in zip(items, progress, strict=True):
        if isinstance(result, ImageLoadError):
            log.warning("%s", result)
            text, confidence = "", 0.0
        else:
            text, confidence = result.text, result.confidence
        scores.add(text, label, confidence)
        if misreadings is not None and normalize36(text) != normalize36(label):
            misreadings.append(Misreading(path, label, text, confidence))
    return scores, time.perf_counter() - start


class Report(NamedTuple):
    """Scores of several folders: per set (by folder name), their word-weighted total, the
    words read wrong, and one line per folder that could not be scored."""

    sets: dict[str, dict[str, float]]
    total: dict[str, float]
    misreadings: list[Misreading]
    errors: list[str]

    def as_json(self) -> dict:
        """``{"sets": {name: {...}}, "total": {...}}``, accuracies as fractions."""
        return {"sets": self.sets, "total": self.total}


def evaluate_folders(recognizer: Recognizer, folders: list[str | Path], holdout: float | None = None,
                     holdout_seed: int = 0) -> Report:
    """:func:`evaluate_folder` on each folder, in the order given, plus the word-weighted total.
    A folder whose labels cannot be read is left out and named in :attr:`Report.errors`."""
    sets, total, seconds, misreadings, errors = {}, WordScores(), 0.0, [], []
    for folder in folders:
        try:
            scores, took = evaluate_folder(recognizer, folder, misreadings, holdout, holdout_seed)
        except DatasetError as err:
            errors.append(str(err))
            continue
        sets[Path(folder).name] = summarize(scores, took)
        total, seconds = total.merge(scores), seconds + took
    return Report(sets, summarize(total, seconds), misreadings, errors)


def write_misreadings(misreadings: list[Misreading], out: str | Path) -> None:
    """A TSV of ``path, label, reading, confidence``, least confident first."""
    rows = sorted(misreadings, key=lambda m: m.confidence)
    lines = ["path\tlabel\treading\tconfidence"]
    lines += [f"{m.path}\t{m.label}\t{m.text}\t{m.confidence:.3f}" for m in rows]
    Path(out).write_text("\n".join(lines) + "\n")


def summarize(scores: WordScores, seconds: float) -> dict[str, float]:
    """The reported numbers: accuracies as fractions, plus images per second."""
    summary = scores.summary()
    return {key: summary[key] for key in COLUMNS[:-1]} | {"images_per_s": scores.words / max(seconds, 1e-9)}


def markdown_table(rows: dict[str, dict[str, float]]) -> str:
    """A Markdown table with one row per set; accuracies and ned as percentages.

    ``acc36_cov95`` / ``acc36_cov90``: acc36 over the 95% / 90% most confident words, i.e.
    what rejecting the 5% / 10% least confident readings buys.
    """
    lines = ["| set | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in rows.items():
        cells = [f"{row['words']:d}"] + [f"{100 * row[k]:.1f}" for k in COLUMNS[1:-1]] + [f"{row['images_per_s']:.0f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
