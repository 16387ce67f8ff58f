"""Writing and reading training checkpoints safely: atomic saves, safe loads, Ctrl-C saves."""
from __future__ import annotations

import inspect
import logging
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ocr.data.sampling import ResumableLoader
from ocr.models.backbone import CRNNBackbone
from ocr.reading.checkpoint import MODEL_PREFIX, atomic_save, read_checkpoint, safe_load, shape_of
from ocr.reading.loaded import CheckpointError
from ocr.text.charset import Charset

log = logging.getLogger(__name__)
# what a resumed run must share with its checkpoint (None: the whole group); the rest,
# such as rnn.impl or rnn.tbptt_steps, may change between runs
OUTPUT_LAYER = "classifier"  # the CRNN's per-step linear layer, sized by the charset
RECTIFIER = "rectifier"  # the CRNN's optional spatial transformer
MUST_MATCH = {"charset": None, "model": ("input", "backbone", "rectifier", "tps"), "rnn": ("cell", "hidden_size", "num_layers", "bidirectional")}


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
            _log_last_step(trainer)


def _log_last_step(trainer: L.Trainer) -> None:
    """Write the last trained step's ``train/*`` metrics (loss, gradient norm), which
    Lightning only logs every ``log_every_n_steps``, so metrics.csv ends where the run did."""
    step = trainer.global_step - 1  # the step index Lightning logs a step's metrics under
    if trainer.logger is None or step < 0 or trainer.global_step % trainer.log_every_n_steps == 0:
        return
    last = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")}
    if last:
        trainer.logger.log_metrics(last, step=step)
        trainer.logger.save()


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


def init_from_checkpoint(model: torch.nn.Module, path: str | Path, charset: Charset) -> str:
    """Copy a checkpoint's weights into ``model`` (a fine-tuning start); returns what was done.

    Every tensor must match by name and shape, else :class:`CheckpointError` names the first
    key that differs. A checkpoint with another charset keeps every layer but the output
    layer (:data:`OUTPUT_LAYER`), which stays freshly initialised for ``charset``; one without
    a rectifier fills every layer but the ``model``'s rectifier, which stays the identity.
    """
    ckpt = read_checkpoint(path)
    saved = {k[len(MODEL_PREFIX):]: v for k, v in ckpt["state_dict"].items() if k.startswith(MODEL_PREFIX)}
    same_charset = Charset.from_config(ckpt["hyper_parameters"]["charset"]) == charset
    own = model.state_dict()
    skip = set() if same_charset else {k for k in own if k.startswith(OUTPUT_LAYER + ".")}
    has_rectifier = any(k.startswith(RECTIFIER + ".") for k in saved)
    added_rectifier = set() if has_rectifier else {k for k in own if k.startswith(RECTIFIER + ".")}
    skip |= added_rectifier  # a rectifier added to a trained CRNN starts as the identity
    for key in [k for k in [*own, *(k for k in saved if k not in own)] if k not in skip]:  # in layer order
        if shape_of(own, key) != shape_of(saved, key):
            raise CheckpointError(f"{path}: another architecture (model.{key}: checkpoint {shape_of(saved, key)}, "
                                  f"this config {shape_of(own, key)}); init_from needs the same model and rnn settings")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in saved.items() if k not in skip}, strict=False)
    notes = []
    if not same_charset:
        notes.append(f"its charset differs from this run's, so the output layer was re-initialised "
                     f"({saved[OUTPUT_LAYER + '.bias'].numel()} -> {charset.num_classes} classes)")
    if added_rectifier:
        notes.append("it has no rectifier, so the rectifier starts as the identity")
    return f"initialised from {path}" + ("; " + "; ".join(notes) if notes else ": every layer")


def _pick(cfg, keys):
    if keys is None or not isinstance(cfg, dict):
        return cfg
    picked = {k: cfg.get(k) for k in keys}
    if isinstance(picked.get("backbone"), dict):
        picked["backbone"] = _with_backbone_defaults(picked["backbone"])
    if "rectifier" in picked:  # checkpoints from before the rectifier have none
        picked["rectifier"] = picked["rectifier"] or "none"
        picked["tps"] = picked["tps"] if picked["rectifier"] == "tps" else None
    return picked


def _with_backbone_defaults(backbone: dict) -> dict:
    """``backbone`` with each setting it leaves out at :class:`CRNNBackbone`'s default: a
    checkpoint from before a setting existed (such as ``stem``) was built with its default."""
    defaults = {name: p.default for name, p in inspect.signature(CRNNBackbone).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **backbone}


def _first_difference(saved, wanted) -> str:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        for k in sorted(set(saved) | set(wanted)):
            if saved.get(k) != wanted.get(k):
                return f"{k}: checkpoint {saved.get(k)!r}, config {wanted.get(k)!r}"
    return f"checkpoint {saved!r}, config {wanted!r}"
