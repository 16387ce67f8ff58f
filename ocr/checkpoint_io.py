"""Writing and reading training checkpoints safely: atomic saves, safe loads, Ctrl-C saves."""
from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ocr.checkpoint import CheckpointError, atomic_save, read_checkpoint, safe_load

log = logging.getLogger(__name__)
MUST_MATCH = ("charset", "model", "rnn")


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
            trainer.save_checkpoint(self.path)
            log.warning("interrupted at step %d: saved %s", trainer.global_step, self.path)


def check_resumable(path: str | Path, hparams: dict) -> None:
    """Refuse to resume from a checkpoint whose charset or model differ from the config."""
    saved = read_checkpoint(path)["hyper_parameters"]
    for key in MUST_MATCH:
        if saved.get(key) != hparams.get(key):
            raise CheckpointError(
                f"{path}: its {key} config differs from this run's ({_first_difference(saved.get(key), hparams.get(key))}); "
                f"resume with the same {key} settings"
            )


def _first_difference(saved, wanted) -> str:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        for k in sorted(set(saved) | set(wanted)):
            if saved.get(k) != wanted.get(k):
                return f"{k}: checkpoint {saved.get(k)!r}, config {wanted.get(k)!r}"
    return f"checkpoint {saved!r}, config {wanted!r}"
