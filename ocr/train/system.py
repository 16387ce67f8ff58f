"""The LightningModule: training and validation steps, non-finite guards, optimiser."""
from __future__ import annotations

import logging

import lightning as L
import torch
from hydra.utils import instantiate
from torch import Tensor

from ocr.data.batch import Batch
from ocr.geometry import num_frames
from ocr.models import build_model
from ocr.text.charset import BLANK, Charset
from ocr.text.decoding import greedy_decode
from ocr.text.metrics import WordScores
from ocr.train.distillation import Teacher
from ocr.train.losses import build_loss

log = logging.getLogger(__name__)


class NonFiniteTrainingError(RuntimeError):
    """Too many consecutive steps had a non-finite loss or gradient."""


class RecognitionSystem(L.LightningModule):
    """Trains a :class:`~ocr.models.CRNN`; every argument is a plain value saved in checkpoints.

    Args:
        charset: ``Charset.to_config()`` dict.
        model: ``input`` (height, min_width, max_width, channels) and ``backbone`` settings;
            ``initial_blank_probability`` (optional) sets the blank's output bias at the start.
        rnn: :class:`~ocr.models.sequence.SequenceModel` settings.
        loss: ``ctc`` or ``ce``.
        optim: ``optimizer`` and optional ``scheduler``: Hydra ``_target_`` dicts, called with
            the parameters / the optimiser.
        max_nonfinite_steps: stop after this many consecutive skipped steps.
    """

    def __init__(
        self, charset: dict, model: dict, rnn: dict, loss: str = "ctc", optim: dict | None = None,
        max_nonfinite_steps: int = 10,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.charset = Charset.from_config(charset)
        self.model = build_model(self.charset.num_classes, model, rnn)
        if (blank := model.get("initial_blank_probability")) is not None:
            try:
                self.model.start_with_class_probability(BLANK, blank)
            except ValueError as err:
                raise ValueError(f"model.initial_blank_probability: {err}") from None
        self.loss_fn = build_loss(loss)
        self.teacher: Teacher | None = None  # set by the training wiring (distill.teacher)
        self.skipped_steps = 0
        self._nonfinite_in_a_row = 0

    def forward(self, images: Tensor, widths: Tensor | None = None) -> Tensor:
        return self.model(images, widths)

    def on_fit_start(self) -> None:
        if self.teacher is not None:
            self.teacher.to(self.device)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        log_probs = self.model(batch.images, batch.widths)
        loss = self.loss_fn(log_probs, batch)
        if self.teacher is not None:
            distill = self.teacher.loss(log_probs, batch.images, batch.widths, batch.target_lengths)
            self.log("train/distill", distill, batch_size=len(batch.texts))
            loss = loss + self.teacher.weight * distill
        if not torch.isfinite(loss):
            self._skip_step("loss")
            return None  # Lightning skips backward and the optimiser step
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch.texts))
        return loss

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Skip the step on a non-finite gradient; otherwise clip by norm or value as configured."""
        params = [p for p in self.parameters() if p.grad is not None]
        if not params:
            return
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        if not torch.isfinite(norm):
            optimizer.zero_grad(set_to_none=True)  # AdamW/SGD leave parameters without grads untouched
            self._skip_step("gradient")
            return
        self._nonfinite_in_a_row = 0
        self.log("train/grad_norm", norm, batch_size=1)
        if gradient_clip_val and gradient_clip_algorithm == "norm":
            torch.nn.utils.clip_grads_with_norm_(params, gradient_clip_val, norm)  # reuses the norm above
        else:
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def _skip_step(self, what: str) -> None:
        self.skipped_steps += 1
        self._nonfinite_in_a_row += 1
        self.log("train/skipped_steps", float(self.skipped_steps), batch_size=1)
        log.warning("step %d: non-finite %s, step skipped (%d in a row)", self.global_step, what, self._nonfinite_in_a_row)
        if self._nonfinite_in_a_row >= self.hparams.max_nonfinite_steps:
            raise NonFiniteTrainingError(
                f"{self._nonfinite_in_a_row} consecutive steps had a non-finite {what}; training stopped. "
                "Try a lower learning rate (optim.optimizer.lr) or gradient clipping (trainer.gradient_clip_val)."
            )

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        name = self.trainer.datamodule.val_names[dataloader_idx]
        log_probs = self.model(batch.images, batch.widths)
        scores = WordScores()
        for prediction, label in zip(greedy_decode(log_probs, num_frames(batch.widths), self.charset), batch.texts):
            scores.add(prediction.text, label)
        summary = scores.summary()
        opts = dict(batch_size=scores.words, add_dataloader_idx=False, sync_dist=True)
        # per-batch means weighted by batch size (by characters for CER) give exact epoch values
        self.log(f"{name}/acc", summary["acc_cs"], prog_bar=dataloader_idx == 0, **opts)
        self.log(f"{name}/acc36", summary["acc36"], **opts)
        self.log(f"{name}/cer", summary["cer"], **{**opts, "batch_size": max(scores.label_chars, 1)})

    def configure_optimizers(self):
        """The optimiser over every parameter, the rectifier's at ``optim.rectifier_lr_scale`` times
        the learning rate; a scheduler with a ``max_lr`` (one-cycle) peaks at each group's rate."""
        optim = self.hparams.optim or {}
        optimizer = instantiate(optim["optimizer"], _partial_=True)(self._parameter_groups(optim))  # groups stay plain dicts
        if not optim.get("scheduler"):
            return optimizer
        peaks = {"max_lr": [group["lr"] for group in optimizer.param_groups]} if "max_lr" in optim["scheduler"] else {}
        scheduler = instantiate(optim["scheduler"], _partial_=True)(optimizer, **peaks)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _parameter_groups(self, optim: dict) -> list[dict]:
        """The rectifier's parameters (a localisation net whose zero-initialised last layer learns
        slowly at the CRNN's rate) in a group of their own, the rest in another."""
        lr, scale = optim["optimizer"]["lr"], optim.get("rectifier_lr_scale", 1.0)
        rectifier = self.model.rectifier
        own = {id(p) for p in rectifier.parameters()} if rectifier is not None else set()
        groups = [{"params": [p for p in self.parameters() if id(p) not in own], "lr": lr}]
        if own:
            groups.append({"params": list(rectifier.parameters()), "lr": lr * scale})
        return groups
