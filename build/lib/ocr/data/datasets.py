"""Datasets yielding :class:`~ocr.data.batch.Example`: labelled folders and synthetic words."""
from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from ocr.data.augment import PhotoAugment
from ocr.data.basic import WordRenderer
from ocr.data.batch import Example, Extents
from ocr.data.drawing import Renderer
from ocr.data.fonts import installed_fonts
from ocr.data.scene import SceneRenderer
from ocr.data.texts import TextSampler
from ocr.data.transforms import ImageLoadError, Preprocess, load_image
from ocr.text.charset import Charset, charset_warning

log = logging.getLogger(__name__)
LABELS_FILE = "labels.tsv"
RENDERERS = {"basic": WordRenderer, "scene": SceneRenderer}
MAX_REPORTED = 20


class DatasetError(ValueError):
    """A dataset folder has problems and ``data.strict`` is set."""


def label_lines(root: str | Path) -> Iterator[tuple[str, str | None, str]]:
    """``(file:line, relative image path or None if the line has no TAB, raw label)`` per non-blank line.

    Reads UTF-8 with or without a BOM; CRLF line ends are fine. A missing or non-UTF-8
    labels file is a :class:`DatasetError` naming it.
    """
    labels_file = Path(root) / LABELS_FILE
    if not labels_file.is_file():
        what = "no such folder" if not Path(root).is_dir() else f"no {LABELS_FILE} in this folder"
        raise DatasetError(f"{root}: {what} (a labelled folder holds the images and {LABELS_FILE}, "
                           "one 'image path<TAB>label' line per image)")
    try:
        text = labels_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetError(f"{labels_file}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            rel, sep, raw = line.partition("\t")
            yield f"{labels_file}:{n}", (rel if sep else None), raw


def image_in_folder(root: str | Path, rel: str) -> Path:
    """``root / rel``; a ``ValueError`` when ``rel`` is absolute or leads out of ``root``."""
    path = Path(root) / rel
    if Path(rel).is_absolute() or not path.resolve().is_relative_to(Path(root).resolve()):
        raise ValueError(f"image path {rel!r} is outside the folder")
    return path


def read_label_file(root: str | Path) -> list[tuple[Path, str]]:
    """``(image path, raw label)`` per line, for scoring. A line without a TAB or naming an
    image outside the folder is a :class:`DatasetError`; a line with an empty label is
    skipped with a warning; a file without any labelled image is a :class:`DatasetError`."""
    items, empty = [], []
    for where, rel, raw in label_lines(root):
        if rel is None:
            raise DatasetError(f"{where}: no TAB between image path and label")
        try:
            path = image_in_folder(root, rel)
        except ValueError as err:
            raise DatasetError(f"{where}: {err}") from None
        if raw.strip():
            items.append((path, raw))
        else:
            empty.append(where)
    if empty:
        log.warning("%s: %d line(s) with an empty label not scored, the first %s", root, len(empty), empty[0])
    if not items:
        raise DatasetError(f"{Path(root) / LABELS_FILE}: no labelled image")
    return items


def read_labels(root: str | Path, charset: Charset, strict: bool = False) -> list[tuple[Path, str]]:
    """``(image path, label normalised into charset)`` pairs of a dataset folder, validated.

    Every problem (no TAB, empty label, characters the charset refuses, a missing or
    unreadable image) is reported with file and line before training starts; the line is
    skipped, or with ``strict`` a :class:`DatasetError` lists them all.
    """
    charset.dropped.clear()
    lines = list(label_lines(root))
    items, problems = [], []
    for where, rel, raw in tqdm(lines, desc=f"checking {root}", unit="img", disable=len(lines) < 5000):
        try:
            if rel is None:
                raise ValueError("no TAB between image path and label")
            if not raw.strip():
                raise ValueError("empty label")
            if not (label := charset.normalize(raw)):
                raise ValueError(f"no character of label {raw!r} is in the charset")
            load_image(image_in_folder(root, rel))
        except ValueError as err:  # ImageLoadError and UnknownCharacterError are ValueErrors
            problems.append(f"{where}: {err}")
            continue
        items.append((Path(root) / rel, label))
    if (warning := charset_warning(charset.dropped)) is not None:
        log.warning("%s: %s", root, warning)
    if problems and strict:
        raise DatasetError(f"{len(problems)} problems in {root}: " + "; ".join(problems[:20]))
    for problem in problems[:MAX_REPORTED]:
        log.warning("skipped %s", problem)
    if len(problems) > MAX_REPORTED:
        log.warning("skipped %d more problem lines in %s", len(problems) - MAX_REPORTED, root)
    return items


class LabelledFolder(Dataset):
    """A folder with images and ``labels.tsv`` (``relative/path<TAB>label`` per line).

    ``items``: the ``(image path, label)`` pairs to use, e.g. one part of a
    :func:`~ocr.data.splits.holdout_split` of :func:`read_labels`; by default all of them.
    ``augment`` changes each image at random before it is resized (training only).
    """

    def __init__(self, root: str | Path, charset: Charset, preprocess: Preprocess, strict: bool = False,
                 items: list[tuple[Path, str]] | None = None, augment: PhotoAugment | None = None) -> None:
        self.root = Path(root)
        self.items = read_labels(root, charset, strict) if items is None else items
        if not self.items:
            raise DatasetError(f"{self.root}: no usable labelled image")
        self.preprocess, self.augment = preprocess, augment

    def __len__(self) -> int:
        return len(self.items)

    @cached_property
    def widths(self) -> list[int]:
        """Each image's preprocessed width (before augmentation), from its header alone:
        what :class:`~ocr.data.sampling.WidthBucketSampler` sorts by."""
        return [self._width(path) for path, _ in self.items]

    def _width(self, path: Path) -> int:
        try:
            with Image.open(path) as image:
                return self.preprocess.target_width(*image.size)
        except (OSError, ValueError):  # unreadable now: __getitem__ will skip it
            return self.preprocess.max_width

    def __getitem__(self, index: int) -> Example:
        for offset in range(len(self)):  # one bad file must not kill a run: use a neighbour
            path, label = self.items[(index + offset) % len(self)]
            try:
                image = load_image(path)
                if self.augment is not None:  # the global RNG is seeded per loader worker by Lightning
                    image = self.augment(image, random.Random(random.getrandbits(64)))
                return Example(self.preprocess(image)[0], label)
            except ImageLoadError as err:
                log.warning("skipping %s", err)
        raise ImageLoadError(f"{self.root}: no readable image in the dataset")


class SyntheticWords(Dataset):
    """``size`` rendered words; sample ``i`` of epoch ``e`` depends only on (seed, e, i).

    Set :attr:`epoch` before each epoch to see new images (the DataModule does).
    """

    def __init__(
        self, size: int, seed: int, sampler: TextSampler, renderer: Renderer, preprocess: Preprocess
    ) -> None:
        self.size, self.seed, self.epoch = size, seed, 0
        self.sampler, self.renderer, self.preprocess = sampler, renderer, preprocess

    def __len__(self) -> int:
        return self.size

    def render(self, index: int) -> tuple[Image.Image, str, Extents]:
        """The raw rendering of sample ``index``: gray image, normalised label, extents."""
        rng = random.Random(f"{self.seed}/{self.epoch}/{index}")
        text = self.sampler.sample(rng)
        image, extents = self.renderer.render(text, rng)
        return image, self.sampler.charset.normalize(text), extents

    def __getitem__(self, index: int) -> Example:
        image, label, extents = self.render(index)
        tensor, scale = self.preprocess(image)
        return Example(tensor, label, [(x0 * scale, x1 * scale) for x0, x1 in extents])


def synthetic_words(synth: dict, charset: Charset, preprocess: Preprocess, size: int, seed: int) -> SyntheticWords:
    """``size`` words of seed ``seed``, drawn as the ``data.synth`` config says (``text``,
    ``render`` with the renderer's ``name``, ``font_dirs``)."""
    render = dict(synth.get("render", {}))
    name = render.pop("name", "basic")
    if name not in RENDERERS:
        raise ValueError(f"data.synth.render.name must be one of {sorted(RENDERERS)}, got {name!r}")
    sampler = TextSampler(charset, **synth.get("text", {}))
    fonts = installed_fonts(synth.get("font_dirs", []), case_sensitive=charset.case_sensitive)
    return SyntheticWords(size, seed, sampler, RENDERERS[name](fonts, **render), preprocess)
