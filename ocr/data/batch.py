"""Examples, batches and the collate function that pads and encodes them."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ocr.data.alignment import frame_targets
from ocr.geometry import num_frames
from ocr.text.charset import Charset

IGNORE_FRAME = -100
Extents = list[tuple[float, float]]


@dataclass
class Example:
    """One preprocessed image with its normalised label and, if known, character extents.

    ``extents`` are the (left, right) pixel columns of each character in ``image``.
    """

    image: Tensor
    text: str
    extents: Extents | None = None


@dataclass
class Batch:
    """A padded batch. ``widths`` are the unpadded widths; ``frame_targets`` is ``(B, T)``."""

    images: Tensor
    widths: Tensor
    texts: list[str]
    targets: Tensor
    target_lengths: Tensor
    frame_targets: Tensor | None = None


def pad_images(images: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Right-pad ``(C, H, w)`` tensors with zeros to a common width."""
    widths = torch.tensor([im.shape[-1] for im in images])
    max_w = int(widths.max())
    return torch.stack([F.pad(im, (0, max_w - im.shape[-1])) for im in images]), widths


class Collate:
    """Build a :class:`Batch` from examples; frame targets only if every example has extents."""

    def __init__(self, charset: Charset) -> None:
        self.charset = charset

    def __call__(self, examples: list[Example]) -> Batch:
        images, widths = pad_images([ex.image for ex in examples])
        ids = [self.charset.encode(ex.text) for ex in examples]
        targets = torch.tensor([i for seq in ids for i in seq], dtype=torch.long)
        lengths = torch.tensor([len(seq) for seq in ids], dtype=torch.long)
        frames = None
        if all(ex.extents is not None for ex in examples):
            total = num_frames(images.shape[-1])
            frames = torch.full((len(examples), total), IGNORE_FRAME, dtype=torch.long)
            for row, (ex, seq, w) in enumerate(zip(examples, ids, widths.tolist())):
                frames[row, : num_frames(w)] = torch.tensor(frame_targets(ex.extents, seq, num_frames(w)))
        return Batch(images, widths, [ex.text for ex in examples], targets, lengths, frames)
