"""The LightningDataModule: a weighted mix of training sources, a fixed synthetic
validation split, and real validation folders."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, RandomSampler, WeightedRandomSampler

from ocr.data.augment import PhotoAugment
from ocr.data.batch import Collate
from ocr.data.datasets import LabelledFolder, SyntheticWords, read_labels, synthetic_words
from ocr.data.lmdb_store import LmdbWords
from ocr.data.sampling import ResumableLoader, WidthBucketSampler
from ocr.data.splits import holdout_split
from ocr.data.transforms import Preprocess
from ocr.text.charset import Charset

SYNTH_VAL_NAME = "val"
HOLDOUT_NAME = "holdout"
SOURCES = ("synth", "folder", "lmdb")


class OCRDataModule(L.LightningDataModule):
    """Builds loaders from the ``data`` config group.

    Args:
        charset: labels are normalised into it.
        preprocess: image resizing/normalisation (from the model's input config).
        sources: training mixture, weight per source: ``synth`` (rendered on the fly),
            ``folder`` (``folder_dirs``), ``lmdb`` (``lmdb_dirs``); e.g. ``{synth: 1.0}``.
        batch_size, num_workers: DataLoader settings.
        synth: renderer and text settings (``epoch_size``, ``seed``, ``render``, ``text``, ...).
        folder_dirs: folders with ``labels.tsv``.
        lmdb_dirs: LMDB folders (deep-text-recognition-benchmark layout).
        val_size: size of the fixed synthetic validation split (0 disables it).
        val_dirs: labelled folders scored at every validation, each logged under its name.
        strict: a problem in a folder's labels or images stops training (default: skip it).
        bucket_batches: when every training sample's width is known without loading it
            (our LMDBs record it, folders read it from the image headers, rendered words
            do not), batches are drawn from pools of this many batches sorted by width
            (less padding); 0: off.
        holdout: fraction of each of ``folder_dirs`` kept out of training (a fixed split by
            ``holdout_seed`` and file name, :mod:`ocr.data.splits`) and scored at every
            validation as one set, ``holdout``; 0: train on all of it.
        folder_augment: :class:`~ocr.data.augment.PhotoAugment` settings for training images
            from ``folder_dirs``; empty: none.

    An epoch is ``synth.epoch_size`` samples when the mix holds more than one source or only
    ``synth``; a single folder or LMDB source is read once per epoch, shuffled.
    """

    def __init__(
        self,
        charset: Charset,
        preprocess: Preprocess,
        sources: dict[str, float] | None = None,
        batch_size: int = 64,
        num_workers: int = 1,
        synth: dict | None = None,
        folder_dirs: list[str] | tuple[str, ...] = (),
        lmdb_dirs: list[str] | tuple[str, ...] = (),
        val_size: int = 1024,
        val_dirs: list[str] | tuple[str, ...] = (),
        strict: bool = False,
        bucket_batches: int = 32,
        holdout: float = 0.0,
        holdout_seed: int = 0,
        folder_augment: dict | None = None,
    ) -> None:
        super().__init__()
        self.sources = {k: float(v) for k, v in (sources or {"synth": 1.0}).items() if v}
        unknown = set(self.sources) - set(SOURCES)
        if unknown or not self.sources:
            raise ValueError(f"data.sources must weight some of {SOURCES}, got {dict(sources or {})}")
        dirs = {"folder": list(folder_dirs), "lmdb": list(lmdb_dirs)}
        for kind, paths in dirs.items():
            if kind in self.sources and not paths:
                raise ValueError(f"data.sources has {kind} but data.{kind}_dirs is empty")
        for folder in [*folder_dirs, *val_dirs]:
            if not Path(folder).is_dir():
                raise FileNotFoundError(f"{folder}: dataset folder not found")
        for folder in lmdb_dirs:
            if not Path(folder).is_dir():
                raise FileNotFoundError(
                    f"{folder}: LMDB folder not found; render it first with python -m ocr.data.prerender "
                    f"--count N --seed S --out {folder} followed by this run's overrides (the experiment's "
                    "YAML, e.g. configs/experiment/default_model.yaml, lists its commands)")
        self.charset, self.preprocess = charset, preprocess
        self.batch_size, self.num_workers, self.strict = batch_size, num_workers, strict
        self.bucket_batches = bucket_batches
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"data.holdout must be in [0, 1), got {holdout}")
        self.holdout, self.holdout_seed = (holdout if folder_dirs else 0.0), holdout_seed
        self.augment = PhotoAugment(**folder_augment) if folder_augment else None
        self.synth_cfg = dict(synth or {})
        self.dirs, self.val_dirs, self.val_size = dirs, list(val_dirs), val_size
        self.collate = Collate(charset)
        self._parts: dict[str, Dataset] = {}
        self._val: dict[str, Dataset] = {}

    @property
    def provides_alignment(self) -> bool:
        """True when every training sample carries character extents (needed by ``loss=ce``)."""
        if "folder" in self.sources:
            return False
        if "lmdb" in self.sources:
            self.setup("fit")
            return all(ds.has_extents for ds in self._parts["lmdb"].datasets)
        return True

    @property
    def val_names(self) -> list[str]:
        """Names of the validation sets, in dataloader order."""
        return ([SYNTH_VAL_NAME] if self.val_size > 0 else []) + ([HOLDOUT_NAME] if self.holdout else []) + [
            Path(d).name for d in self.val_dirs]

    def synthetic(self, size: int, seed: int) -> SyntheticWords:
        """A synthetic dataset as configured in ``data.synth``."""
        return synthetic_words(self.synth_cfg, self.charset, self.preprocess, size, seed)

    @cached_property
    def _folder_splits(self) -> list[tuple[str, list, list]]:
        """``(folder, training items, held-out items)`` of each of ``folder_dirs``; every
        folder's labels and images are read and checked once."""
        return [(d, *holdout_split(read_labels(d, self.charset, self.strict), d, self.holdout, self.holdout_seed))
                for d in self.dirs["folder"]]

    def _folders(self, held_out: bool) -> ConcatDataset:
        """The training parts of ``folder_dirs`` (augmented), or their held-out parts."""
        return ConcatDataset([LabelledFolder(d, self.charset, self.preprocess, self.strict, held if held_out else train,
                                             None if held_out else self.augment)
                              for d, train, held in self._folder_splits])

    def setup(self, stage: str | None = None) -> None:
        if not self._parts and stage in (None, "fit"):
            for kind in self.sources:
                if kind == "synth":
                    cfg = self.synth_cfg
                    self._parts[kind] = self.synthetic(cfg.get("epoch_size", 32000), cfg.get("seed", 0))
                elif kind == "folder":
                    self._parts[kind] = self._folders(held_out=False)
                else:
                    self._parts[kind] = ConcatDataset([LmdbWords(d, self.charset, self.preprocess)
                                                       for d in self.dirs["lmdb"]])
        if not self._val:
            if self.val_size > 0:
                self._val[SYNTH_VAL_NAME] = self.synthetic(self.val_size, self.synth_cfg.get("val_seed", 12345))
            if self.holdout:
                self._val[HOLDOUT_NAME] = self._folders(held_out=True)
            for d in self.val_dirs:
                self._val[Path(d).name] = LabelledFolder(d, self.charset, self.preprocess, self.strict)

    def train_dataloader(self) -> DataLoader:
        """This epoch's training batches, in an order set by ``synth.seed`` and the epoch alone,
        so that a run resumed mid-epoch goes on with the very batches it would have seen."""
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        seed = self.synth_cfg.get("seed", 0)
        generator = torch.Generator().manual_seed(seed * 1000 + epoch)
        if "synth" in self._parts:  # new images every epoch; needs trainer.reload_dataloaders_every_n_epochs=1
            self._parts["synth"].epoch = epoch
        if list(self._parts) == ["synth"]:
            dataset, sampler, drop_last = self._parts["synth"], None, False
        else:
            parts = list(self._parts.items())
            dataset = parts[0][1] if len(parts) == 1 else ConcatDataset([ds for _, ds in parts])
            weights = None if len(parts) == 1 else torch.cat(
                [torch.full((len(ds),), self.sources[k] / len(ds), dtype=torch.double) for k, ds in parts])
            num_samples = None if weights is None else self.synth_cfg.get("epoch_size", 32000)
            widths = self._known_widths(dataset) if self.bucket_batches else None
            drop_last = True
            if widths is not None:
                sampler = WidthBucketSampler(widths, self.batch_size, self.bucket_batches, seed,
                                             None if weights is None else weights.tolist(), num_samples)
                sampler.set_epoch(epoch)
            elif weights is None:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = WeightedRandomSampler(weights, num_samples, generator=generator)
        # keyword arguments: under DDP, Lightning rebuilds the loader with its own sampler
        return ResumableLoader(dataset, batch_size=self.batch_size, sampler=sampler, drop_last=drop_last,
                               num_workers=self.num_workers, collate_fn=self.collate)

    @classmethod
    def _known_widths(cls, dataset: Dataset) -> list[int] | None:
        """Preprocessed widths of every sample, when all parts know them (LMDBs, folders)."""
        if isinstance(dataset, ConcatDataset):
            parts = [cls._known_widths(part) for part in dataset.datasets]
            return None if any(part is None for part in parts) else [w for part in parts for w in part]
        return getattr(dataset, "widths", None)

    def val_dataloader(self) -> list[DataLoader]:
        return [DataLoader(ds, batch_size=self.batch_size, num_workers=self.num_workers, collate_fn=self.collate)
                for ds in self._val.values()]
