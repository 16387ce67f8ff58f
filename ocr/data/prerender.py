"""``python -m ocr.data.prerender``: render words as a training config would, to LMDB or a preview grid."""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import OmegaConf
from PIL import Image, ImageDraw

from ocr.config import compose_config
from ocr.data.transforms import Preprocess
from ocr.text.charset import Charset

if TYPE_CHECKING:  # the rendering and LMDB modules import PyTorch: after --help, not for it
    from ocr.data.datasets import SyntheticWords


def rendered_words(overrides: list[str], count: int, seed: int) -> tuple[SyntheticWords, int]:
    """``count`` words of seed ``seed`` rendered as the training config with ``overrides``
    would render them (e.g. ``experiment=default_model``), and the model's input height."""
    from ocr.data.datasets import synthetic_words

    cfg = compose_config(overrides)
    charset = Charset.from_config(cfg.charset)
    preprocess = Preprocess(**cfg.model.input)
    synth = OmegaConf.to_container(cfg.data.synth, resolve=True)
    return synthetic_words(synth, charset, preprocess, count, seed), cfg.model.input.height


def main() -> None:
    """``python -m ocr.data.prerender``: pre-render words to LMDB, or write a preview grid."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", help="LMDB folder to create (with --count)")
    parser.add_argument("--count", type=int, default=64, help="samples to render")
    parser.add_argument("--seed", type=int, default=0, help="renders sample i of seed S identically every time")
    parser.add_argument("--preview", help="write a PNG grid of samples here instead")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. renderer=scene charset=lower36")
    args = parser.parse_args()
    if not args.out and not args.preview:
        parser.error("give --out PATH.lmdb or --preview PATH.png")
    from ocr.data.lmdb_store import check_new_folder, write_lmdb

    if args.out:
        try:
            check_new_folder(Path(args.out))
        except FileExistsError as err:
            raise SystemExit(f"prerender: {err} (nothing written)") from None
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
