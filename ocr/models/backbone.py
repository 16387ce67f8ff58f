"""The CRNN convolutional feature extractor.

Input ``(B, C, 32, W)``; output ``(B, C', 1, T)`` with ``T = W // 4 + 1`` (see
:func:`num_frames`): the stem and a 2x2 pooling divide the width by 4, the two late 2x1 poolings
keep it (their 2-wide window with padding 1 adds one column each) and the last 2x2
convolution without padding takes one away. Frame ``t`` is centred on input column ``4 t``.

With ``mask_padding``, the columns right of each word's width are set to zero before every
layer that pads the width (the padded convolutions and the late poolings), at that layer's
resolution: a word padded in a batch then meets zeros at its right edge exactly as it does
alone (a convolution's own padding is zeros; a pooling's never wins against the
non-negative ReLU outputs), so its reading does not depend on the batch. A layer that does
not pad the width reads only valid columns for its valid outputs and needs no mask.

The stem, the first layer, halves the height and width: the paper's 3x3 convolution and
2x2 max pooling (``pooled``), or one 4x4 convolution with stride 2 (``strided``), which sees
the same 4x4 pixels for each output at a quarter of the positions. A convolution with one
input channel runs far below the CPU's speed: as exported, the int8 pooled stem took 10-19% of
the network's time for 1% of its multiply-adds, the strided one about 3%; the int8 export
now computes the pooled stem on 2x2 pixel blocks, in two fifths of that time and with the
same numbers (ocr/reading/phase_stem.py).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ocr.models.masks import valid_positions

# Channels of the seven convolutions in Shi et al. (TPAMI 2017), before the width multiplier.
PAPER_CHANNELS = (64, 128, 256, 256, 512, 512, 512)
STEMS = ("pooled", "strided")


def _conv(c_in: int, c_out: int, kernel: int = 3, padding: int = 1, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


def _stem(c_in: int, c_out: int, kind: str) -> list[nn.Module]:
    """The first layers, taking the input to half its height and width (see the module docstring)."""
    if kind == "pooled":
        return [*_conv(c_in, c_out), nn.MaxPool2d(2, 2)]
    if kind == "strided":
        return _conv(c_in, c_out, kernel=4, stride=2)
    raise ValueError(f"model.backbone.stem must be one of {', '.join(STEMS)}, got {kind!r}")


def _along_width(value: int | tuple[int, ...]) -> int:
    return value[-1] if isinstance(value, tuple) else value


def _width_after(layer: nn.Conv2d | nn.MaxPool2d, widths: Tensor) -> Tensor:
    """The valid width of each image after ``layer``, from its width before (PyTorch's formula)."""
    kernel, stride, padding = (_along_width(v) for v in (layer.kernel_size, layer.stride, layer.padding))
    return (widths + 2 * padding - kernel) // stride + 1


def _masked_columns(features: Tensor, widths: Tensor) -> Tensor:
    """``features`` ``(B, C, H, W)`` with every column at or right of each image's width zeroed."""
    valid = valid_positions(widths, features.shape[-1])
    return features * valid[:, None, None, :].to(features.dtype)


class CRNNBackbone(nn.Module):
    """Seven 3x3/2x2 convolutions with batch norm; height 32 collapses to 1.

    Runs in channels_last memory format, much faster for convolutions on CPU.

    Args:
        in_channels: 1 for gray input, 3 for RGB.
        width_mult: scales every layer's channel count (0.5 gives the ``small`` preset).
        channels: the seven convolutions' channel counts, given outright (then ``width_mult``
            is not used), e.g. to make the costly late layers narrower than the rest.
        mask_padding: zero the padding before every layer that looks across columns, so that
            a reading does not depend on its batch (a model must be trained with it).
        stem: ``pooled`` (the paper's) or ``strided`` (cheaper; see the module docstring).
    """

    def __init__(self, in_channels: int = 1, width_mult: float = 1.0, channels: list[int] | None = None,
                 mask_padding: bool = False, stem: str = "pooled") -> None:
        super().__init__()
        self.mask_padding = mask_padding
        if channels is not None and len(channels) != len(PAPER_CHANNELS):
            raise ValueError(f"backbone channels: {len(PAPER_CHANNELS)} numbers needed, got {list(channels)}")
        c = list(channels) if channels is not None else [max(8, int(round(ch * width_mult))) for ch in PAPER_CHANNELS]
        late_pool = dict(kernel_size=(2, 2), stride=(2, 1), padding=(0, 1))
        self.out_channels = c[6]
        self.layers = nn.Sequential(
            *_stem(in_channels, c[0], stem),  # 16 x W/2
            *_conv(c[0], c[1]), nn.MaxPool2d(2, 2),  # 8 x W/4
            *_conv(c[1], c[2]), *_conv(c[2], c[3]), nn.MaxPool2d(**late_pool),  # 4 x W/4+1
            *_conv(c[3], c[4]), *_conv(c[4], c[5]), nn.MaxPool2d(**late_pool),  # 2 x W/4+2
            *_conv(c[5], c[6], kernel=2, padding=0),  # 1 x W/4+1
        ).to(memory_format=torch.channels_last)
        self.memory_format = torch.channels_last

    def forward(self, images: Tensor, widths: Tensor | None = None) -> Tensor:
        """Features ``(B, C, 1, T)``; ``widths`` (valid pixel columns) are used with ``mask_padding``."""
        if images.shape[-2] != 32:
            raise ValueError(f"the CRNN backbone needs input height 32, got {images.shape[-2]}")
        features = images.contiguous(memory_format=self.memory_format)
        if not self._masks(images, widths):
            return self.layers(features)
        for layer in self.layers:
            if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
                if _along_width(layer.padding) > 0:
                    features = _masked_columns(features, widths)
                widths = _width_after(layer, widths)
            features = layer(features)
        return features

    def _masks(self, images: Tensor, widths: Tensor | None) -> bool:
        """Whether this batch needs masking: not when no image is padded, except while the
        model is traced for export (the graph must hold the masks for every batch)."""
        if not self.mask_padding or widths is None:
            return False
        return self.training or torch.jit.is_tracing() or bool((widths < images.shape[-1]).any())

    @torch.no_grad()
    def fuse_batch_norm(self) -> None:
        """Fold each batch norm into the convolution before it (inference only: the model
        must be in eval mode); same outputs, fewer passes over the feature maps."""
        if self.training:
            raise RuntimeError("fuse_batch_norm() needs eval mode")
        layers = list(self.layers)
        for i, (layer, following) in enumerate(zip(layers, layers[1:])):
            if isinstance(layer, nn.Conv2d) and isinstance(following, nn.BatchNorm2d):
                self.layers[i] = fuse_conv_bn_eval(layer, following)
                self.layers[i + 1] = nn.Identity()
