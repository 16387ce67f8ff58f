"""The LightningDataModule: training source, a fixed synthetic validation split, real folders."""
from __future__ import annotations

from pathlib import Path

import lightning as L
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from ocr.charset import Charset
from ocr.data.batch import Collate
from ocr.data.datasets import LabelledFolder, SyntheticWords
from ocr.data.scene import SceneRenderer
from ocr.data.synth import TextSampler, WordRenderer, installed_fonts
from ocr.data.transforms import Preprocess

SYNTH_VAL_NAME = "val"
RENDERERS = {"basic": WordRenderer, "scene": SceneRenderer}


class OCRDataModule(L.LightningDataModule):
    """Builds loaders from the ``data`` config group.

    Args:
        charset: labels are normalised into it.
        preprocess: image resizing/normalisation (from the model's input config).
        source: ``synth`` (render on the fly) or ``folder`` (``train_dirs``).
        batch_size, num_workers: DataLoader settings.
        synth: renderer and text settings (``epoch_size``, ``seed``, ``font_dirs``, ...).
        train_dirs: folders with ``labels.tsv`` for ``source=folder``.
        val_size: size of the fixed synthetic validation split (0 disables it).
        val_dirs: labelled folders scored at every validation, each logged under its name.
        strict: a problem in a folder's labels or images stops training (default: skip it).
    """

    def __init__(
        self,
        charset: Charset,
        preprocess: Preprocess,
        source: str = "synth",
        batch_size: int = 64,
        num_workers: int = 1,
        synth: dict | None = None,
        train_dirs: list[str] | tuple[str, ...] = (),
        val_size: int = 1024,
        val_dirs: list[str] | tuple[str, ...] = (),
        strict: bool = False,
    ) -> None:
        super().__init__()
        if source not in ("synth", "folder"):
            raise ValueError(f"data.source must be 'synth' or 'folder', got {source!r}")
        if source == "folder" and not train_dirs:
            raise ValueError("data.source=folder needs data.train_dirs=[DIR, ...]")
        for folder in [*train_dirs, *val_dirs]:
            if not Path(folder).is_dir():
                raise FileNotFoundError(f"{folder}: dataset folder not found")
        self.charset, self.preprocess, self.source = charset, preprocess, source
        self.batch_size, self.num_workers = batch_size, num_workers
        self.synth_cfg = dict(synth or {})
        self.train_dirs, self.val_dirs, self.val_size = list(train_dirs), list(val_dirs), val_size
        self.strict = strict
        self.collate = Collate(charset)
        self._train: Dataset | None = None
        self._val: dict[str, Dataset] = {}

    @property
    def provides_alignment(self) -> bool:
        """True when training batches carry character extents (needed by ``loss=ce``)."""
        return self.source == "synth"

    @property
    def val_names(self) -> list[str]:
        """Names of the validation sets, in dataloader order."""
        return ([SYNTH_VAL_NAME] if self.val_size > 0 else []) + [Path(d).name for d in self.val_dirs]

    def _synthetic(self, size: int, seed: int) -> SyntheticWords:
        cfg = self.synth_cfg
        sampler = TextSampler(self.charset, **cfg.get("text", {}))
        render = dict(cfg.get("render", {}))
        name = render.pop("name", "basic")
        if name not in RENDERERS:
            raise ValueError(f"data.synth.render.name must be one of {sorted(RENDERERS)}, got {name!r}")
        renderer = RENDERERS[name](installed_fonts(cfg.get("font_dirs", [])), **render)
        return SyntheticWords(size, seed, sampler, renderer, self.preprocess)

    def _folder(self, root: str) -> LabelledFolder:
        return LabelledFolder(root, self.charset, self.preprocess, self.strict)

    def setup(self, stage: str | None = None) -> None:
        if self._train is None and stage in (None, "fit"):
            if self.source == "synth":
                self._train = self._synthetic(self.synth_cfg.get("epoch_size", 32000), self.synth_cfg.get("seed", 0))
            else:
                self._train = ConcatDataset([self._folder(d) for d in self.train_dirs])
        if not self._val:
            if self.val_size > 0:
                self._val[SYNTH_VAL_NAME] = self._synthetic(self.val_size, self.synth_cfg.get("val_seed", 12345))
            for d in self.val_dirs:
                self._val[Path(d).name] = self._folder(d)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=self.collate,
            persistent_workers=False,
            drop_last=shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        if isinstance(self._train, SyntheticWords):
            # new images every epoch; needs trainer.reload_dataloaders_every_n_epochs=1
            self._train.epoch = self.trainer.current_epoch if self.trainer is not None else 0
        return self._loader(self._train, shuffle=self.source == "folder")

    def val_dataloader(self) -> list[DataLoader]:
        return [self._loader(ds, shuffle=False) for ds in self._val.values()]
