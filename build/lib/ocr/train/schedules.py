"""Learning-rate schedules, referenced by ``_target_`` in configs/optim."""
from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(optimizer: Optimizer, total_steps: int, warmup_steps: int = 300, final_scale: float = 0.01) -> LambdaLR:
    """Linear warm-up from 0 to the optimiser's lr, then cosine decay to ``final_scale * lr``.

    Works for any run length: warm-up is capped at a tenth of ``total_steps``.
    """
    warmup = max(1, min(warmup_steps, total_steps // 10))

    def scale(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return final_scale + (1 - final_scale) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, scale)
