"""Training batch order: batches of similar widths (less padding, so less wasted convolution
and recurrence), and a loader that resumes mid-epoch where it stopped."""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from itertools import accumulate, islice
from typing import Any

from torch.utils.data import DataLoader, Dataset, Sampler, SequentialSampler


class WidthBucketSampler(Sampler[int]):
    """Shuffled indices in which every run of ``batch_size`` has similar image widths.

    Each epoch: shuffle all indices (or, given ``weights``, draw ``num_samples`` of them with
    replacement, index ``i`` with probability proportional to ``weights[i]``), cut them into
    pools of ``batch_size * pool_batches``, sort each pool by width, cut the pools into
    batches and shuffle the batch order. Batches stay random in content but padding shrinks
    from the widest image in a random batch to the widest among near neighbours.
    Call :meth:`set_epoch` (Lightning does for samplers that have it) for a new order.
    """

    def __init__(self, widths: Sequence[int], batch_size: int, pool_batches: int = 32, seed: int = 0,
                 weights: Sequence[float] | None = None, num_samples: int | None = None) -> None:
        if batch_size < 1 or pool_batches < 1:
            raise ValueError("batch_size and pool_batches must be positive")
        if (weights is None) != (num_samples is None):
            raise ValueError("weights and num_samples go together")
        if weights is not None and len(weights) != len(widths):
            raise ValueError(f"{len(weights)} weights for {len(widths)} widths")
        self.widths, self.batch_size, self.pool_batches, self.seed = list(widths), batch_size, pool_batches, seed
        # cumulative once, not at every epoch's draw
        self.cum_weights = None if weights is None else list(accumulate(weights))
        self.num_samples = num_samples
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.widths) if self.num_samples is None else self.num_samples

    def __iter__(self) -> Iterator[int]:
        rng = random.Random(f"{self.seed}/{self.epoch}")
        if self.cum_weights is None:
            order = list(range(len(self.widths)))
            rng.shuffle(order)
        else:
            order = rng.choices(range(len(self.widths)), cum_weights=self.cum_weights, k=self.num_samples)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start:start + pool], key=self.widths.__getitem__)
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        return (index for batch in batches for index in batch)


class SkippingSampler(Sampler[int]):
    """The indices of ``sampler``, its next pass starting :attr:`skip` indices in: the skipped
    ones are drawn (so the order is unchanged) but never loaded."""

    def __init__(self, sampler: Sampler[int]) -> None:
        self.sampler, self.skip = sampler, 0

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        return islice(iter(self.sampler), skip, None)

    def set_epoch(self, epoch: int) -> None:
        """Passed on to the wrapped sampler (Lightning calls it every epoch)."""
        if callable(getattr(self.sampler, "set_epoch", None)):
            self.sampler.set_epoch(epoch)


class ResumableLoader(DataLoader):
    """A training DataLoader that Lightning resumes mid-epoch where it stopped.

    Lightning stores :meth:`state_dict` in every checkpoint: :attr:`batches_done`, the batches
    this pass has yielded (Lightning trains on each before it saves; whoever saves in the
    middle of a batch sets it to the batches trained on). On resume it hands that to
    :meth:`load_state_dict` before the first pass, which then skips those batches without
    loading them. Exact when the sampler's order depends only on its seed and the epoch, as
    all of the DataModule's do; without it, a resumed run would see the epoch's first batches
    again and miss its last ones. Under DDP, Lightning rebuilds the loader around a
    distributed sampler, and each process skips its own batches.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, sampler: Sampler[int] | None = None,
                 drop_last: bool = False, **kwargs: Any) -> None:
        sampler = SkippingSampler(sampler if sampler is not None else SequentialSampler(dataset))
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, **kwargs)
        self.batches_done = 0

    def __iter__(self) -> Iterator[Any]:
        self.batches_done = self.sampler.skip // self.batch_size
        for batch in super().__iter__():
            self.batches_done += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"batches": self.batches_done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.skip = state["batches"] * self.batch_size
