"""What every renderer provides, and drawing helpers the renderers share."""
from __future__ import annotations

import random
from typing import Protocol

from PIL import Image


class Renderer(Protocol):
    """What the datasets need from a renderer."""

    def render(self, text: str, rng: random.Random) -> tuple[Image.Image, list[tuple[float, float]]]: ...


def noise_image(size: tuple[int, int], spread: float, rng: random.Random) -> Image.Image:
    """Uniform gray noise around 128 (+-``spread``), drawn from ``rng`` so samples stay
    reproducible (``Image.effect_noise`` uses an unseeded C generator)."""
    raw = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    low, span = 128 - spread, 2 * spread / 255
    return raw.point(lambda v: int(low + v * span))


def contrasting_level(bg: int, rng: random.Random, min_contrast: int = 70) -> int:
    """A gray level at least ``min_contrast`` away from ``bg``."""
    choices = [v for v in range(256) if abs(v - bg) >= min_contrast]
    return rng.choice(choices)
