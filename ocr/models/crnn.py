"""The CRNN: CNN columns -> stacked RNN -> per-step class log-probabilities."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ocr.geometry import num_frames
from ocr.models.backbone import CRNNBackbone
from ocr.models.rectifier import TPSRectifier
from ocr.models.sequence import SequenceModel

RECTIFIERS = ("none", "tps")


class CRNN(nn.Module):
    """Image batch ``(B, C, 32, W)`` -> log-probabilities ``(T, B, num_classes)``.

    With ``rectifier`` settings, a :class:`~ocr.models.rectifier.TPSRectifier` straightens
    each word before the backbone (same size out, so time steps are unchanged).
    """

    def __init__(self, num_classes: int, backbone: dict, rnn: dict, rectifier: dict | None = None) -> None:
        super().__init__()
        self.rectifier = None if rectifier is None else TPSRectifier(backbone.get("in_channels", 1), **rectifier)
        self.backbone = CRNNBackbone(**backbone)
        self.sequence = SequenceModel(input_size=self.backbone.out_channels, **rnn)
        self.classifier = nn.Linear(self.sequence.output_size, num_classes)

    def forward(self, images: Tensor, widths: Tensor | None = None) -> Tensor:
        """Log-probabilities per time step; ``widths`` (valid pixel columns) mask the padding."""
        if self.rectifier is not None:
            images, widths = self.rectifier(images, widths)
        features = self.backbone(images, widths)  # (B, C, 1, T)
        sequence = features.flatten(2).permute(2, 0, 1)  # (T, B, C); flatten, not squeeze: no If node in ONNX
        lengths = None if widths is None else num_frames(widths)
        logits = self.classifier(self.sequence(sequence, lengths))
        return torch.log_softmax(logits.float(), dim=-1)

    def start_with_class_probability(self, index: int, probability: float) -> None:
        """Set the output bias of class ``index`` so that, before training, each step gives it
        about ``probability`` (the other classes' logits being near zero at initialisation).

        For CTC's blank this skips the first phase of training, in which the network learns
        that most steps are blank, before it learns any character."""
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 < probability < 1:
            raise ValueError(f"a starting probability must be a number between 0 and 1, got {probability!r}")
        others = self.classifier.out_features - 1
        with torch.no_grad():
            self.classifier.bias[index] = math.log(probability / (1.0 - probability) * others)


def build_model(num_classes: int, model: dict, rnn: dict) -> CRNN:
    """The CRNN described by the ``model`` and ``rnn`` config groups (plain dicts); ``model.rectifier``
    is ``none`` or ``tps`` (settings in ``model.tps``)."""
    backbone = {"in_channels": model["input"]["channels"], **model.get("backbone", {})}
    kind = model.get("rectifier", "none")
    if kind not in RECTIFIERS:
        raise ValueError(f"model.rectifier must be one of {', '.join(RECTIFIERS)}, got {kind!r}")
    rectifier = dict(model.get("tps") or {}) if kind == "tps" else None
    return CRNN(num_classes, backbone=backbone, rnn=rnn, rectifier=rectifier)
