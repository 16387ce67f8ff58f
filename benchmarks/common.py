"""What the benchmark scripts share: where the repository and the benchmark photos are."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK_FOLDER = ROOT.parent / "shared" / "data" / "benchmarks"  # read its README; evaluation only
TRAIN_REAL_FOLDER = ROOT.parent / "shared" / "data" / "train_real"  # training; its held-out part validates
X = TypeVar("X")


def in_turn(first: Callable[[X], object], second: Callable[[X], object],
            inputs: Iterable[X]) -> tuple[list[float], list[float]]:
    """Seconds of ``first(x)`` and of ``second(x)`` for each ``x`` of ``inputs``, the two taking
    turns to go first (BA, AB, BA, ...). This machine's speed swings by a fifth between runs
    minutes apart (docs/speed_log.md), so separate runs cannot rank a change of a few percent;
    calls taken in turn meet the same swings, and the ratio of their times holds."""
    jobs, times = (first, second), ([], [])
    for k, x in enumerate(inputs):
        for which in ((0, 1) if k % 2 else (1, 0)):
            start = time.perf_counter()
            jobs[which](x)
            times[which].append(time.perf_counter() - start)
    return times


def onnx_feed(batch: int, width: int, padded: bool = False) -> dict[str, np.ndarray]:
    """An exported model's inputs: ``batch`` random gray 32 x ``width`` images, all full width
    (the export's branch without padding masks runs), or with ``padded`` the last one 8
    columns narrower (the branch with them)."""
    feed = {"images": np.random.default_rng(0).uniform(-1, 1, (batch, 1, 32, width)).astype(np.float32),
            "widths": np.full((batch,), width, dtype=np.int64)}
    if padded:
        feed["widths"][-1] = max(1, width - 8)
    return feed


def benchmark_sets() -> list[str]:
    """The labelled benchmark folders (``SVT_647``, ...), the default of every ``--sets``."""
    return sorted(str(p) for p in BENCHMARK_FOLDER.glob("*_*"))


def train_real_sets() -> list[str]:
    """The labelled real training folders (``IC15_train_4468``, ...)."""
    return sorted(str(p) for p in TRAIN_REAL_FOLDER.glob("*_train_*"))


def held_out_crops(folders: list[str], fraction: float) -> list[tuple[Image.Image, str]]:
    """Loaded images and labels of the crops of ``folders`` that training with
    ``data.holdout=fraction`` (and ``data.holdout_seed=0``) kept out."""
    from ocr.data.labels import read_label_file
    from ocr.data.splits import holdout_split
    from ocr.data.transforms import load_image

    crops = []
    for folder in folders:
        _, held = holdout_split(read_label_file(folder), folder, fraction)
        crops += [(load_image(path), label) for path, label in held]
    return crops


def acc36(texts: list[str], labels: list[str]) -> float:
    """acc36 (%) of ``texts`` read for ``labels``."""
    from ocr.text.metrics import WordScores

    scores = WordScores()
    for text, label in zip(texts, labels):
        scores.add(text, label)
    return 100 * scores.summary()["acc36"]
