"""Words before and after a trained TPS rectifier: a picture of what it straightens.

    python benchmarks/plot_rectification.py runs/X/checkpoints/last.ckpt --out docs/rectification.png \
        [--count 12] [--seed 11] [overrides ...]

The words are rendered (never photos), by default with the renderer's arcs and strong
geometry switched on so that there is something to straighten; each row shows the word as
the model receives it (height 32), what the rectifier makes of it, and what the model reads.
"""
from __future__ import annotations

import argparse

import torch
from PIL import Image, ImageDraw

from ocr.data.batch import pad_images
from ocr.data.prerender import rendered_words
from ocr.geometry import num_frames
from ocr.reading.checkpoint import load_model
from ocr.text.decoding import greedy_decode

BENT = ["experiment=default_model", "data.synth.render.effects.arc=0.6", "data.synth.render.effects.strong_geometry=0.4"]


def to_pil(tensor: torch.Tensor, width: int) -> Image.Image:
    """A normalised ``(1, H, W)`` tensor as a gray image, cut to ``width``."""
    pixels = ((tensor[0, :, :width] + 1) * 127.5).clamp(0, 255).to(torch.uint8)
    return Image.fromarray(pixels.numpy(), mode="L")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint trained with model.rectifier=tps")
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("overrides", nargs="*", default=BENT, help=f"renderer config (default: {' '.join(BENT)})")
    args = parser.parse_args()
    loaded = load_model(args.checkpoint)
    if loaded.model.rectifier is None:
        parser.error(f"{args.checkpoint}: this model has no rectifier")
    words, _ = rendered_words(args.overrides, args.count, args.seed)
    examples = [words[i] for i in range(args.count)]
    images, widths = pad_images([ex.image for ex in examples])
    with torch.no_grad():
        rectified, _ = loaded.model.rectifier(images, widths)
        readings = greedy_decode(loaded.model(images, widths), num_frames(widths), loaded.charset)
    gap, text_width, height = 8, 150, images.shape[2]
    width = int(widths.max())
    sheet = Image.new("L", (2 * width + 3 * gap + text_width, args.count * (height + gap) + gap), 255)
    draw = ImageDraw.Draw(sheet)
    for row, (ex, w, reading) in enumerate(zip(examples, widths.tolist(), readings)):
        y = gap + row * (height + gap)
        sheet.paste(to_pil(images[row], w), (gap, y))
        sheet.paste(to_pil(rectified[row], w), (2 * gap + width, y))
        draw.text((3 * gap + 2 * width, y + height // 3), f"{ex.text} -> {reading.text}", fill=0)
    sheet.save(args.out)
    print(f"{args.out}: {args.count} words, input | rectified | label -> reading")


if __name__ == "__main__":
    main()
