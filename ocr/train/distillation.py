"""Knowledge distillation: a trained model's per-step class distributions as a second target.

A student learns from the labels (CTC) and, at every time step of every word it trains on,
from what a frozen teacher reads there (``distill.teacher``): how sure it is of a blank,
which letters it confuses. Every CRNN of this project has the same time steps for an input
width (:func:`~ocr.geometry.num_frames`), so the two align step by step; the charsets must
be the same. Several teachers (``distill.teacher=[A.ckpt,B.ckpt]``) teach their average, as
the reading path's second opinion averages two networks: the mean of their per-step
log-probabilities, renormalised.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ocr.geometry import num_frames
from ocr.models.masks import valid_positions
from ocr.reading.checkpoint import load_model
from ocr.text.charset import Charset
from ocr.train.config_checks import ConfigError


def distillation_loss(student: Tensor, teacher: Tensor, widths: Tensor, target_lengths: Tensor,
                      temperature: float = 1.0) -> Tensor:
    """KL(teacher || student) of per-step log-probabilities ``(T, B, C)`` (both softened by
    ``temperature``), summed over each word's valid steps and divided by its label length,
    then averaged over the batch (the scale of :class:`~ocr.train.losses.CTCLoss`), times
    ``temperature ** 2`` (Hinton et al., 2015: gradients keep their size at any temperature)."""
    student = torch.log_softmax(student.float() / temperature, dim=-1)
    teacher = torch.log_softmax(teacher.float() / temperature, dim=-1)
    per_step = (teacher.exp() * (teacher - student)).sum(-1)  # (T, B)
    valid = valid_positions(num_frames(widths), per_step.shape[0]).T
    per_word = (per_step * valid).sum(0) / target_lengths.clamp(min=1)
    return per_word.mean() * temperature ** 2


def averaged_log_probs(outputs: Sequence[Tensor]) -> Tensor:
    """The mean of several networks' per-step log-probabilities ``(T, B, C)``, renormalised at
    each step (the normalised geometric mean of their distributions; one network's own)."""
    return torch.log_softmax(torch.stack([out.float() for out in outputs]).mean(0), dim=-1)


class Teacher:
    """Trained models, frozen, whose (averaged) readings a student learns from. Not submodules
    of the student's LightningModule, so their weights are never saved in its checkpoints."""

    def __init__(self, paths: Sequence[str | Path], charset: Charset, weight: float = 1.0,
                 temperature: float = 1.0) -> None:
        if weight <= 0 or temperature <= 0:
            raise ConfigError(f"distill.weight and distill.temperature must be positive, got {weight} and {temperature}")
        if not paths:
            raise ConfigError("distill.teacher: name at least one checkpoint")
        self.paths, self.weight, self.temperature = [Path(path) for path in paths], weight, temperature
        self.models = []
        for path in self.paths:
            loaded = load_model(path)
            if loaded.charset != charset:
                raise ConfigError(f"distill.teacher={path}: its charset ({loaded.charset.num_classes} classes) "
                                  f"differs from this run's ({charset.num_classes}); a teacher must read the same classes")
            self.models.append(loaded.model.requires_grad_(False).eval())

    def to(self, device: torch.device) -> Teacher:
        for model in self.models:
            model.to(device)
        return self

    def loss(self, student: Tensor, images: Tensor, widths: Tensor, target_lengths: Tensor) -> Tensor:
        """:func:`distillation_loss` of the student's log-probabilities on a batch against the
        teachers' (averaged where there are several)."""
        with torch.no_grad():
            teacher = averaged_log_probs([model(images, widths) for model in self.models])
        return distillation_loss(student, teacher, widths, target_lengths, self.temperature)
