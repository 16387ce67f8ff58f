"""Batches of similar widths: less padding, so less wasted convolution and recurrence."""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler


class WidthBucketSampler(Sampler[int]):
    """Shuffled indices in which every run of ``batch_size`` has similar image widths.

    Each epoch: shuffle all indices, cut them into pools of ``batch_size * pool_batches``,
    sort each pool by width, cut the pools into batches and shuffle the batch order. Every
    index is yielded once per epoch; batches stay random in content but padding shrinks
    from the widest image in a random batch to the widest among near neighbours.
    Call :meth:`set_epoch` (Lightning does for samplers that have it) for a new order.
    """

    def __init__(self, widths: Sequence[int], batch_size: int, pool_batches: int = 32, seed: int = 0) -> None:
        if batch_size < 1 or pool_batches < 1:
            raise ValueError("batch_size and pool_batches must be positive")
        self.widths, self.batch_size, self.pool_batches, self.seed = list(widths), batch_size, pool_batches, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.widths)

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(f"{self.seed}/{self.epoch}")
        order = list(range(len(self.widths)))
        rng.shuffle(order)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start:start + pool], key=self.widths.__getitem__)
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        return (index for batch in batches for index in batch)
