"""Frame-level targets from character extents, for the per-step cross-entropy loss.

Frame ``t`` of the backbone is centred on pixel column ``4 t`` (ocr/models/backbone.py).
A frame takes a character's class when its centre falls in the middle part of that
character's extent (``core`` of its width), and blank otherwise, so that neighbouring
characters are separated by blanks and greedy CTC decoding reads the targets back.
A character narrower than the 4-pixel frame stride takes the nearest free frame.
"""
from __future__ import annotations

from ocr.geometry import FRAME_STRIDE, column_step
from ocr.text.charset import BLANK


def frame_targets(
    extents: list[tuple[float, float]], ids: list[int], n_frames: int, core: float = 0.6
) -> list[int]:
    """Class id per frame, blank elsewhere; every character gets at least one frame if there is room."""
    if len(extents) != len(ids):
        raise ValueError(f"{len(ids)} characters but {len(extents)} extents")
    targets = [BLANK] * n_frames
    prev_id, prev_last = None, -2
    for (x0, x1), cls in zip(extents, ids):
        centre, half = (x0 + x1) / 2, max(x1 - x0, 0.0) * core / 2
        first = max(0, int(-(-(centre - half) // FRAME_STRIDE)))
        last = min(n_frames - 1, int((centre + half) // FRAME_STRIDE))
        if first > last:  # narrower than the frame stride: the nearest frame
            first = last = min(n_frames - 1, max(0, column_step(centre)))
        # after the previous character, with a blank between two equal ones;
        # a character squeezed out this way moves right by a frame or two
        first = max(first, prev_last + (2 if cls == prev_id else 1))
        last = max(last, first)
        if last >= n_frames:
            continue  # the image is too narrow for this many characters
        targets[first : last + 1] = [cls] * (last - first + 1)
        prev_id, prev_last = cls, last
    return targets
