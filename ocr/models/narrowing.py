"""Make a trained CRNN cheaper to run: narrower convolutions and a strided stem, from its weights.

A narrower convolution keeps the output channels whose batch norm scales them most (largest
``|gamma|``: "network slimming", Liu et al., ICCV 2017), and the next convolution keeps the
matching input channels. A pooled stem (3x3 convolution, 2x2 max pooling) becomes the strided
one (a 4x4 convolution with stride 2) whose kernel is the 3x3 kernel averaged over the four
positions the pooling chooses from: before the batch norm it computes exactly the 2x2 *average*
of the pooled stem's convolution, where the pooling took the maximum after the ReLU. Neither
change is exact; a short fine-tune, taught by the original network, recovers what they lose
(``python -m ocr.train.narrow``; docs/default_model.md).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ocr.models.crnn import CRNN


def strided_kernel(kernel: Tensor) -> Tensor:
    """The 4x4 kernel (stride 2, padding 1) computing the 2x2 average of the 3x3 ``kernel``'s
    convolution (padding 1) over each pooling window: ``(C_out, C_in, 3, 3) -> (C_out, C_in, 4, 4)``."""
    out = kernel.new_zeros(*kernel.shape[:2], 4, 4)
    for row in (0, 1):
        for column in (0, 1):
            out[:, :, row:row + 3, column:column + 3] += kernel / 4
    return out


def _conv_norm_pairs(model: CRNN) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    layers = list(model.backbone.layers)
    return [(conv, norm) for conv, norm in zip(layers, layers[1:])
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)]


def conv_channels(model: CRNN) -> list[int]:
    """The output channels of ``model``'s convolutions, first to last."""
    return [conv.out_channels for conv, _ in _conv_norm_pairs(model)]


def strongest_channels(norm: nn.BatchNorm2d, count: int) -> Tensor:
    """The ``count`` channels of ``norm`` with the largest ``|gamma|``, in their order."""
    return norm.weight.detach().abs().argsort(descending=True)[:count].sort().values


@torch.no_grad()
def copy_narrowed(source: CRNN, target: CRNN) -> None:
    """Fill ``target`` (the same CRNN with each convolution at most as wide, the last one as
    wide, and the source's stem or a strided one) from ``source``'s weights, as the module
    docstring says. Raises ``ValueError`` where ``target`` cannot be made from ``source``."""
    pairs, wanted = _conv_norm_pairs(source), _conv_norm_pairs(target)
    if len(pairs) != len(wanted):
        raise ValueError(f"{len(wanted)} convolutions cannot be made from {len(pairs)}")
    if pairs[-1][0].out_channels != wanted[-1][0].out_channels:
        raise ValueError(f"the last convolution feeds the RNN: keep its {pairs[-1][0].out_channels} channels")
    inputs = None  # the kept channels of the layer before
    for index, ((conv, norm), (new_conv, new_norm)) in enumerate(zip(pairs, wanted)):
        have, want = conv.out_channels, new_conv.out_channels
        if want > have:
            raise ValueError(f"convolution {index + 1} has {have} channels; it cannot be widened to {want}")
        kept = strongest_channels(norm, want)
        weight = conv.weight[kept] if inputs is None else conv.weight[kept][:, inputs]
        if weight.shape[-2:] != new_conv.weight.shape[-2:]:
            if (weight.shape[-2:], new_conv.weight.shape[-2:]) != ((3, 3), (4, 4)):
                raise ValueError("only a pooled stem can become a strided one")
            weight = strided_kernel(weight)
        new_conv.weight.copy_(weight)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(new_norm, name).copy_(getattr(norm, name)[kept])
        inputs = kept
    backbone = {key: value for key, value in target.state_dict().items() if key.startswith("backbone.")}
    rest = {key: value for key, value in source.state_dict().items() if not key.startswith("backbone.")}
    target.load_state_dict({**backbone, **rest})
