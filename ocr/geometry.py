"""How image columns map to the network's time steps: one leaf module that the models,
the data, the losses and the reader share.

The backbone divides the width by :data:`FRAME_STRIDE` and adds one step (see
:mod:`ocr.models.backbone`): an input ``W`` pixels wide gives ``W // 4 + 1`` steps, and
step ``t`` is centred on column ``4 t``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # reading a word needs no PyTorch
    import numpy as np
    from torch import Tensor

Width = TypeVar("Width", int, "Tensor", "np.ndarray")
FRAME_STRIDE = 4


def num_frames(width: Width) -> Width:
    """Number of time steps the backbone produces for an input of this width (int, tensor or array)."""
    return width // FRAME_STRIDE + 1


def step_centre(step: float) -> float:
    """The input column a (possibly fractional) time step is centred on."""
    return FRAME_STRIDE * step


def column_step(column: float) -> int:
    """The time step nearest to an input column."""
    return round(column / FRAME_STRIDE)
