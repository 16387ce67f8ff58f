"""Datasets yielding :class:`~ocr.data.batch.Example`: labelled folders and synthetic words."""
from __future__ import annotations

import logging
import random
from pathlib import Path

from torch.utils.data import Dataset

from ocr.charset import Charset, charset_warning
from ocr.data.batch import Example
from ocr.data.synth import TextSampler, WordRenderer
from ocr.data.transforms import ImageLoadError, Preprocess, load_image

log = logging.getLogger(__name__)
LABELS_FILE = "labels.tsv"


def read_label_file(root: str | Path) -> list[tuple[Path, str]]:
    """``(image path, raw label)`` for each line of ``root/labels.tsv`` (UTF-8, BOM allowed)."""
    labels_file = Path(root) / LABELS_FILE
    if not labels_file.is_file():
        raise FileNotFoundError(f"{labels_file}: no such file (a dataset folder needs images and {LABELS_FILE})")
    items = []
    for n, line in enumerate(labels_file.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"{labels_file}:{n}: expected 'path<TAB>label', got {line!r}")
        rel, raw = line.split("\t", 1)
        items.append((Path(root) / rel, raw))
    return items


def read_labels(root: str | Path, charset: Charset) -> list[tuple[Path, str]]:
    """``(image path, label normalised into charset)`` pairs of a dataset folder.

    Dropped characters and labels left empty are counted and reported in one warning each.
    """
    charset.dropped.clear()
    items, skipped = [], 0
    for path, raw in read_label_file(root):
        if label := charset.normalize(raw):
            items.append((path, label))
        else:
            skipped += 1
    if (warning := charset_warning(charset.dropped)) is not None:
        log.warning("%s: %s", root, warning)
    if skipped:
        log.warning("%s: skipped %d labels with no character in the charset", root, skipped)
    return items


class LabelledFolder(Dataset):
    """A folder with images and ``labels.tsv`` (``relative/path<TAB>label`` per line)."""

    def __init__(self, root: str | Path, charset: Charset, preprocess: Preprocess) -> None:
        self.root = Path(root)
        self.items = read_labels(root, charset)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Example:
        for offset in range(len(self)):  # one bad file must not kill a run: use a neighbour
            path, label = self.items[(index + offset) % len(self)]
            try:
                return Example(self.preprocess(load_image(path))[0], label)
            except ImageLoadError as err:
                log.warning("skipping %s", err)
        raise ImageLoadError(f"{self.root}: no readable image in the dataset")


class SyntheticWords(Dataset):
    """``size`` rendered words; sample ``i`` of epoch ``e`` depends only on (seed, e, i).

    Set :attr:`epoch` before each epoch to see new images (the DataModule does).
    """

    def __init__(
        self, size: int, seed: int, sampler: TextSampler, renderer: WordRenderer, preprocess: Preprocess
    ) -> None:
        self.size, self.seed, self.epoch = size, seed, 0
        self.sampler, self.renderer, self.preprocess = sampler, renderer, preprocess

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Example:
        rng = random.Random(f"{self.seed}/{self.epoch}/{index}")
        text = self.sampler.sample(rng)
        image, extents = self.renderer.render(text, rng)
        tensor, scale = self.preprocess(image)
        label = self.sampler.charset.normalize(text)
        return Example(tensor, label, [(x0 * scale, x1 * scale) for x0, x1 in extents])
