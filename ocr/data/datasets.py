"""Datasets yielding :class:`~ocr.data.batch.Example`: labelled folders and synthetic words."""
from __future__ import annotations

import logging
import random
from functools import cached_property
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from ocr.data.augment import PhotoAugment
from ocr.data.basic import WordRenderer
from ocr.data.batch import Example, Extents
from ocr.data.drawing import Renderer
from ocr.data.fonts import installed_fonts
from ocr.data.scene import SceneRenderer
from ocr.data.labels import DatasetError, read_labels
from ocr.data.texts import TextSampler
from ocr.data.transforms import ImageLoadError, Preprocess
from ocr.text.charset import Charset

log = logging.getLogger(__name__)
RENDERERS = {"basic": WordRenderer, "scene": SceneRenderer}


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
                image = self.preprocess.load(path)
                if self.augment is not None:  # the global RNG is seeded per loader worker by Lightning
                    image = self.augment(image, random.Random(random.getrandbits(64)))
                return Example(torch.from_numpy(self.preprocess(image)[0]), label)
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
        pixels, scale = self.preprocess(image)
        return Example(torch.from_numpy(pixels), label, [(x0 * scale, x1 * scale) for x0, x1 in extents])


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
