"""Writing and reading training checkpoints safely: atomic saves, safe loads, Ctrl-C saves."""
from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ocr.checkpoint import CheckpointError, atomic_save, read_checkpoint, safe_load
from ocr.data.sampling import ResumableLoader

log = logging.getLogger(__name__)
# what a resumed run must share with its checkpoint (None: the whole group); the rest,
# such as rnn.impl or rnn.tbptt_steps, may change between runs
MUST_MATCH = {"charset": None, "model": ("input", "backbone"), "rnn": ("cell", "hidden_size", "num_layers", "bidirectional")}


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O that renames a finished temporary file into place and
    loads with ``weights_only=True``."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        atomic_save(checkpoint, path)

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        return safe_load(path, map_location)


class SaveOnInterrupt(L.Callback):
    """On Ctrl-C (SIGINT), write ``path`` before Lightning exits."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_exception(self, trainer: L.Trainer, module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            loader = trainer.train_dataloader
            if isinstance(loader, ResumableLoader):  # the batch in hand was drawn, not trained on
                loader.batches_done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
            trainer.save_checkpoint(self.path, weights_only=False)
            log.warning("interrupted at step %d: saved %s", trainer.global_step, self.path)


def check_resumable(path: str | Path, hparams: dict) -> None:
    """Refuse to resume from a checkpoint whose charset or model differ from the config."""
    saved = read_checkpoint(path)["hyper_parameters"]
    for group, keys in MUST_MATCH.items():
        old, new = _pick(saved.get(group), keys), _pick(hparams.get(group), keys)
        if old != new:
            raise CheckpointError(
                f"{path}: its {group} config differs from this run's ({_first_difference(old, new)}); "
                f"resume with the same {group} settings"
            )


def _pick(cfg, keys):
    return cfg if keys is None or not isinstance(cfg, dict) else {k: cfg.get(k) for k in keys}


def _first_difference(saved, wanted) -> str:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        for k in sorted(set(saved) | set(wanted)):
            if saved.get(k) != wanted.get(k):
                return f"{k}: checkpoint {saved.get(k)!r}, config {wanted.get(k)!r}"
    return f"checkpoint {saved!r}, config {wanted!r}"
