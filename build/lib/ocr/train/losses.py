"""Training losses over per-step log-probabilities ``(T, B, C)``.

``ctc`` needs only the label; ``ce`` needs each frame's target class, which the data
provides when it knows every character's horizontal extent (see ocr/data/alignment.py).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ocr.data.batch import IGNORE_FRAME, Batch
from ocr.geometry import num_frames


class CTCLoss(nn.Module):
    """Connectionist temporal classification, mean over the batch of per-target-length loss."""

    requires_alignment = False

    def forward(self, log_probs: Tensor, batch: Batch) -> Tensor:
        return F.ctc_loss(
            log_probs,
            batch.targets,
            input_lengths=num_frames(batch.widths),
            target_lengths=batch.target_lengths,
            blank=0,
            reduction="mean",
            zero_infinity=True,
        )


class FrameCrossEntropyLoss(nn.Module):
    """Per-step cross-entropy against frame-aligned targets (blank between characters)."""

    requires_alignment = True

    def forward(self, log_probs: Tensor, batch: Batch) -> Tensor:
        if batch.frame_targets is None:
            raise ValueError("loss=ce needs frame-aligned targets; this batch has none")
        return F.nll_loss(log_probs.permute(1, 2, 0), batch.frame_targets, ignore_index=IGNORE_FRAME)


LOSSES = {"ctc": CTCLoss, "ce": FrameCrossEntropyLoss}


def build_loss(name: str) -> nn.Module:
    """The loss called ``name`` in configs/loss."""
    if name not in LOSSES:
        raise ValueError(f"loss.name must be one of {sorted(LOSSES)}, got {name!r}")
    return LOSSES[name]()
