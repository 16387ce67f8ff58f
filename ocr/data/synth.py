"""A basic on-the-fly synthetic word renderer (Pillow), recording character extents.

Interface kept small on purpose: ``TextSampler.sample(rng) -> str`` and
``WordRenderer.render(text, rng) -> (gray PIL image, extents)``; a better renderer
only has to replace the inside of these.
"""
from __future__ import annotations

import logging
import math
import random
import re
import string
from collections.abc import Iterator
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageStat

from ocr.charset import Charset

if TYPE_CHECKING:
    from ocr.data.datasets import SyntheticWords

log = logging.getLogger(__name__)


class Renderer(Protocol):
    """What the datasets need from a renderer."""

    def render(self, text: str, rng: random.Random) -> tuple[Image.Image, list[tuple[float, float]]]: ...


def installed_fonts(extra_dirs: list[str] | tuple[str, ...] = (), case_sensitive: bool = True) -> list[Path]:
    """Upright font files of every installed ``fontpkg-*`` family, plus extra folders.

    With ``case_sensitive`` labels, caps-only faces (whose lowercase letters are capitals)
    are left out: they would teach the model to read "OPEN" where the label says "open".
    """
    import fontpkg

    paths = [f.path for fam in fontpkg.families().values() for f in fam.files if f.style == "normal"]
    for folder in extra_dirs:  # the packaged families are known to be Latin text faces; these are not
        found = sorted(p for p in Path(folder).expanduser().rglob("*") if p.suffix.lower() in (".ttf", ".otf"))
        for path in found:
            if lacks_latin(path):
                log.warning("%s: skipped: unreadable, or no glyph for some of a-z, A-Z, 0-9 (a symbol font?)", path)
            else:
                paths.append(path)
    paths = sorted(set(paths))
    if case_sensitive:
        paths = [p for p in paths if not is_caps_only(p)]
    if not paths:
        raise RuntimeError("no fonts found: install the fontpkg-* dependencies (pip install -e .)")
    return paths


@lru_cache(maxsize=None)
def lacks_latin(path: Path) -> bool:
    """True for symbol, non-Latin or unreadable font files: some of a-z, A-Z, 0-9 have no glyph."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        cmap = TTFont(str(path), lazy=True).getBestCmap() or {}
    except (TTLibError, OSError, AssertionError, KeyError):
        return True
    return any(ord(c) not in cmap for c in string.ascii_letters + string.digits)


@lru_cache(maxsize=None)
def is_caps_only(path: Path) -> bool:
    """True when the font's lowercase letters are its capitals (drawn at any size)."""
    font = ImageFont.truetype(str(path), 48)

    def shape(ch: str) -> Image.Image:
        image = Image.new("L", (96, 96), 0)
        ImageDraw.Draw(image).text((16, 16), ch, font=font, fill=255)
        return image.crop(image.getbbox() or (0, 0, 1, 1)).resize((24, 24), Image.Resampling.BILINEAR)

    differences = sorted(ImageStat.Stat(ImageChops.difference(shape(c), shape(c.upper()))).mean[0] for c in "aegmr")
    return differences[2] < 15  # normal faces differ by 30 or more (of 255) on most letters


def font_families(paths: list[Path]) -> list[list[Path]]:
    """Group font files by family (the file name before ``-`` or ``[``), so that a family
    with eighteen static weights is drawn no more often than one with a single file."""
    families: dict[str, list[Path]] = {}
    for path in paths:
        families.setdefault(re.split(r"[-\[]", path.stem)[0], []).append(path)
    return list(families.values())


def noise_image(size: tuple[int, int], spread: float, rng: random.Random) -> Image.Image:
    """Uniform gray noise around 128 (+-``spread``), drawn from ``rng`` so samples stay
    reproducible (``Image.effect_noise`` uses an unseeded C generator)."""
    raw = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    low, span = 128 - spread, 2 * spread / 255
    return raw.point(lambda v: int(low + v * span))


@lru_cache(maxsize=8192)
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A cached font; ``.axes`` lists its variation axes (empty for a static font)."""
    font = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    try:
        font.axes = font.get_variation_axes()
    except OSError:  # not a variable font
        font.axes = []
    return font


class TextSampler:
    """English words in lower, Title or UPPER case, plus random strings (``p_random``, lengths
    in ``random_length``, a ``random_symbols`` share of their characters are punctuation and
    symbols, the rest letters and digits), numbers (``p_number``), dates, times, prices and codes
    (``p_formatted``) and words with punctuation attached (``p_punctuated``).

    Words are drawn by frequency (wordfreq, flattened), or uniformly with ``p_uniform`` so
    that rare words appear.

    Only texts whose every character survives ``charset.normalize`` unchanged in length
    are produced, so character extents always line up with the label.
    """

    def __init__(
        self,
        charset: Charset,
        vocabulary_size: int = 50000,
        p_random: float = 0.1,
        p_number: float = 0.05,
        case_weights: tuple[float, float, float] = (0.5, 0.25, 0.25),
        max_length: int = 16,
        random_length: tuple[int, int] = (1, 10),
        random_symbols: float = 0.1,
        p_formatted: float = 0.0,
        p_punctuated: float = 0.0,
        p_uniform: float = 0.0,
    ) -> None:
        from wordfreq import top_n_list

        self.charset = charset
        alphabet = set(charset.chars) | {c.upper() for c in charset.chars}
        words = [w for w in top_n_list("en", vocabulary_size) if set(w) <= alphabet and len(w) <= max_length]
        if not words:
            raise ValueError("no wordfreq word fits the charset")
        self.words = words
        # Zipf-like weights by rank, flattened (power 0.5) so that rare words appear too.
        self.cum_weights = list(accumulate(1.0 / math.sqrt(rank + 1) for rank in range(len(words))))
        self.alphanumerics = "".join(sorted(c for c in alphabet if c.isalnum()))
        self.symbols = "".join(sorted(c for c in alphabet if not c.isalnum()))
        self.random_symbols = random_symbols
        self.p_random, self.p_number, self.case_weights = p_random, p_number, case_weights
        self.random_length = random_length
        self.p_formatted, self.p_punctuated, self.p_uniform = p_formatted, p_punctuated, p_uniform

    def sample(self, rng: random.Random) -> str:
        r = rng.random()
        if r < self.p_random:
            text = "".join(self._random_char(rng) for _ in range(rng.randint(*self.random_length)))
        elif (r := r - self.p_random) < self.p_number:
            text = str(rng.randint(0, 10 ** rng.randint(1, 6)))
        elif (r := r - self.p_number) < self.p_formatted:
            text = rng.choice(FORMATS)(rng)
        else:
            text = self._word(rng)
            if r - self.p_formatted < self.p_punctuated:
                text = rng.choice(PUNCTUATION).format(text)
        if len(self.charset.normalize(text)) != len(text):
            text = "".join(c for c in text if self.charset.normalize(c))
        return text or rng.choice(self.words)

    def _random_char(self, rng: random.Random) -> str:
        use_symbol = self.symbols and (not self.alphanumerics or rng.random() < self.random_symbols)
        return rng.choice(self.symbols if use_symbol else self.alphanumerics)

    def _word(self, rng: random.Random) -> str:
        if rng.random() < self.p_uniform:
            word = rng.choice(self.words)
        else:
            word = rng.choices(self.words, cum_weights=self.cum_weights)[0]
        return rng.choices((str.lower, str.title, str.upper), weights=self.case_weights)[0](word)


FORMATS = (
    lambda r: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(1950, 2035)}",  # date
    lambda r: f"{r.randint(1950, 2035)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",  # ISO date
    lambda r: f"{r.randint(0, 23)}:{r.randint(0, 59):02d}",  # time
    lambda r: f"${r.randint(0, 999)}.{r.randint(0, 99):02d}",  # price
    lambda r: f"{r.randint(1, 99)}%",  # percentage
    lambda r: f"{r.randint(100, 999)}-{r.randint(1000, 9999)}",  # phone-like
    lambda r: f"#{r.randint(1, 999)}",  # number sign
)
PUNCTUATION = ("{}!", "{}.", "{},", "{}?", "{}:", "({})", "\"{}\"", "{}'s", "'{}'", "{}-", "&{}", "@{}")


class WordRenderer:
    """Draw a word on a plain or gradient gray background with light geometric and photometric noise."""

    def __init__(self, fonts: list[Path], font_sizes: tuple[int, int] = (28, 48), max_angle: float = 3.0) -> None:
        if not fonts:
            raise ValueError("WordRenderer needs at least one font")
        self.fonts, self.font_sizes, self.max_angle = fonts, font_sizes, max_angle

    def render(self, text: str, rng: random.Random) -> tuple[Image.Image, list[tuple[float, float]]]:
        """A gray image of ``text`` and each character's (left, right) column in it."""
        font = load_font(rng.choice(self.fonts), rng.randint(*self.font_sizes))
        spacing = rng.uniform(-0.03, 0.12) * font.size
        offsets, ink = _layout(font, text, spacing)
        ascent, descent = font.getmetrics()
        width = int(math.ceil(offsets[-1])) + 1
        pad_x, pad_y = int(0.4 * font.size), int(0.3 * font.size)
        canvas_w, canvas_h = width + 2 * pad_x, ascent + descent + 2 * pad_y

        bg = rng.randint(0, 255)
        fg = contrasting_level(bg, rng)
        image = _background(canvas_w, canvas_h, bg, rng)
        draw = ImageDraw.Draw(image)
        for ch, x in zip(text, offsets):
            draw.text((pad_x + x, pad_y), ch, font=font, fill=fg)
        extents = [(pad_x + x + l, pad_x + x + r) for x, (l, r) in zip(offsets, ink)]

        angle = rng.uniform(-self.max_angle, self.max_angle)
        shear = rng.uniform(-0.25, 0.25)
        image, extents = _affine(image, extents, pad_y, pad_y + ascent + descent, angle, shear, bg)
        image, extents = _crop(image, extents, font.size, rng)
        return _degrade(image, rng), extents


def _layout(font: ImageFont.FreeTypeFont, text: str, spacing: float) -> tuple[list[float], list[tuple[float, float]]]:
    """Pen x-offset of each character (plus the end) and each glyph's ink (left, right)."""
    offsets, ink, x = [], [], 0.0
    for ch in text:
        left, _, right, _ = font.getbbox(ch)
        advance = font.getlength(ch)
        if right <= left:  # spaces and empty glyphs: use the advance
            left, right = 0, advance
        offsets.append(x)
        ink.append((left, right))
        x += advance + spacing
    offsets.append(x - spacing)
    return offsets, ink


def contrasting_level(bg: int, rng: random.Random, min_contrast: int = 70) -> int:
    """A gray level at least ``min_contrast`` away from ``bg``."""
    choices = [v for v in range(256) if abs(v - bg) >= min_contrast]
    return rng.choice(choices)


def _background(w: int, h: int, level: int, rng: random.Random) -> Image.Image:
    image = Image.new("L", (w, h), level)
    if rng.random() < 0.4:  # horizontal or vertical brightness gradient
        delta = rng.randint(-40, 40)
        ramp = Image.linear_gradient("L").resize((w, h) if rng.random() < 0.5 else (h, w))
        if ramp.size != (w, h):
            ramp = ramp.transpose(Image.Transpose.ROTATE_90).resize((w, h))
        image = Image.eval(ramp, lambda v: max(0, min(255, level + (v - 128) * delta // 128)))
    return image


def _affine(image, extents, top, bottom, angle, shear, fill):
    """Rotate by ``angle`` degrees and shear horizontally; map each character's box too."""
    a = math.radians(angle)
    cx, cy = image.width / 2, image.height / 2
    # forward map: x' = m00 (x - cx) + m01 (y - cy) + cx ; y' = m10 (x - cx) + m11 (y - cy) + cy
    m00, m01 = math.cos(a), math.sin(a) + shear * math.cos(a)
    m10, m11 = -math.sin(a), math.cos(a) - shear * math.sin(a)
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    coeffs = (i00, i01, cx - i00 * cx - i01 * cy, i10, i11, cy - i10 * cx - i11 * cy)
    out = image.transform(image.size, Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR, fillcolor=fill)
    mapped = []
    for x0, x1 in extents:
        xs = [m00 * (x - cx) + m01 * (y - cy) + cx for x in (x0, x1) for y in (top, bottom)]
        mapped.append((min(xs), max(xs)))
    return out, mapped


def _crop(image, extents, font_size, rng):
    """Crop horizontally around the ink with random (mostly tight) margins."""
    left = max(0.0, extents[0][0] - rng.uniform(0.0, 0.35) * font_size)
    right = min(float(image.width), extents[-1][1] + rng.uniform(0.0, 0.35) * font_size)
    top = rng.uniform(0.0, 0.25) * font_size
    bottom = image.height - rng.uniform(0.0, 0.25) * font_size
    box = (int(left), int(top), int(math.ceil(right)), int(math.ceil(bottom)))
    return image.crop(box), [(x0 - box[0], x1 - box[0]) for x0, x1 in extents]


def _degrade(image: Image.Image, rng: random.Random) -> Image.Image:
    if rng.random() < 0.3:  # low resolution: down then up
        f = rng.uniform(0.35, 0.8)
        small = image.resize((max(4, int(image.width * f)), max(4, int(image.height * f))), Image.Resampling.BILINEAR)
        image = small.resize(image.size, Image.Resampling.BILINEAR)
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.3:
        noise = noise_image(image.size, rng.uniform(9, 43), rng)
        image = Image.blend(image, noise, rng.uniform(0.05, 0.2))
    return image




def rendered_words(overrides: list[str], count: int, seed: int) -> tuple[SyntheticWords, int]:
    """``count`` words of seed ``seed`` rendered as the training config with ``overrides``
    would render them (e.g. ``experiment=default_model``), and the model's input height."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from ocr.training import build_datamodule

    config_dir = Path(__file__).resolve().parents[2] / "configs"
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    charset = Charset.from_config(OmegaConf.to_container(cfg.charset))
    # only the renderer settings matter here: the training sources may not exist yet
    cfg.data.sources, cfg.data.folder_dirs, cfg.data.lmdb_dirs, cfg.data.val_dirs = {"synth": 1.0}, [], [], []
    return build_datamodule(cfg, charset).synthetic(count, seed), cfg.model.input.height


def main() -> None:
    """``python -m ocr.data.synth``: pre-render words to LMDB, or write a preview grid."""
    import argparse

    from ocr.data.lmdb_store import write_lmdb

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", help="LMDB folder to create (with --count)")
    parser.add_argument("--count", type=int, default=64, help="samples to render")
    parser.add_argument("--seed", type=int, default=0, help="renders sample i of seed S identically every time")
    parser.add_argument("--preview", help="write a PNG grid of samples here instead")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. renderer=scene charset=lower36")
    args = parser.parse_args()
    if not args.out and not args.preview:
        parser.error("give --out PATH.lmdb or --preview PATH.png")
    dataset, height = rendered_words(args.overrides, args.count, args.seed)
    samples = at_height(dataset, args.count, height)
    if args.preview:
        out = preview_grid(list(samples))
        out.save(args.preview)
        print(f"{args.preview}: {args.count} samples")
    else:
        n = write_lmdb(args.out, samples, args.count)
        print(f"{args.out}: {n} samples")


def at_height(dataset, count: int, height: int) -> Iterator[tuple[Image.Image, str, list[tuple[float, float]]]]:
    """Samples ``0 .. count-1`` of a synthetic dataset resized to ``height`` (the model's),
    with their extents scaled to match: what pre-rendered LMDBs store."""
    for i in range(count):
        image, label, extents = dataset.render(i)
        scale = height / image.height
        resized = image.resize((max(1, round(image.width * scale)), height), Image.Resampling.BILINEAR)
        yield resized, label, [(a * scale, b * scale) for a, b in extents]


def preview_grid(samples: list[tuple[Image.Image, str, list[tuple[float, float]]]], columns: int = 4) -> Image.Image:
    """Samples in a grid, each with its label underneath."""
    cell_w = max(im.width for im, _, _ in samples) + 8
    cell_h = max(im.height for im, _, _ in samples) + 22
    rows = -(-len(samples) // columns)
    grid = Image.new("L", (columns * cell_w, rows * cell_h), 255)
    draw = ImageDraw.Draw(grid)
    for k, (image, label, _) in enumerate(samples):
        x, y = (k % columns) * cell_w + 4, (k // columns) * cell_h + 2
        grid.paste(image, (x, y))
        draw.text((x, y + image.height + 2), label, fill=0)
    return grid


if __name__ == "__main__":
    main()
