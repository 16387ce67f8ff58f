"""Which positions of a padded batch hold data: the one mask the models and losses share."""
from __future__ import annotations

import torch
from torch import Tensor


def valid_positions(lengths: Tensor, size: int) -> Tensor:
    """``(B, size)`` booleans, true where position ``i`` of sequence ``b`` is below ``lengths[b]``.

    Built as ``Range < lengths``: the ONNX export's unpadded branch finds padding masks by
    that ``Less`` (:mod:`ocr.reading.unpadded`)."""
    return torch.arange(size, device=lengths.device) < lengths.reshape(-1, 1)
