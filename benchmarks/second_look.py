"""How the second look's settings were chosen: on the real crops that training held out.

    python benchmarks/second_look.py [--checkpoint X.ckpt] [--holdout 0.1]

Reads the held-out crops of the real training folders (``data.holdout=0.1``, seed 0) with
the default settings and no second look, then with every word read again at each
``--stretches`` (the more confident reading kept), and prints, for each stretch, confidence
threshold and steps per character, how many words a :class:`SecondLook` of those settings
reads again and the acc36 it gets. Benchmark photos choose nothing here.
"""
from __future__ import annotations

import argparse
import itertools
import math

from common import acc36, held_out_crops, train_real_sets
from ocr import Recognizer
from ocr.geometry import num_frames
from ocr.reading.second_look import SecondLook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped model")
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--stretches", type=float, nargs="*", default=[1.3, 1.5])
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.4, 0.5, 0.6])
    parser.add_argument("--steps-per-char", type=float, nargs="*", default=[2.0, 2.5, 3.0, 3.5])
    args = parser.parse_args()
    crops = held_out_crops(train_real_sets(), args.holdout)
    images, labels = [image for image, _ in crops], [label for _, label in crops]
    rec = Recognizer.load(args.checkpoint, second_look=False)
    first = rec.read(images)
    # the steps of each image as read upright (a tall image's winning view may be a turned one)
    steps = [num_frames(rec.preprocess.target_width(*image.size)) for image in images]
    print(f"{len(images)} held-out real crops; no second look: acc36 {acc36([p.text for p in first], labels):.2f}\n")
    print("| stretch | threshold | steps per character | words read again | acc36 |\n|---|---|---|---|---|")
    for stretch in args.stretches:
        rec.second_look = SecondLook(threshold=math.inf, steps_per_char=math.inf, stretch=stretch)
        both = rec.read(images)  # every word read again: the more confident of its two readings
        for threshold, per_char in itertools.product(args.thresholds, args.steps_per_char):
            look = SecondLook(threshold, per_char, stretch)
            again = [look.wants(p, n) for p, n in zip(first, steps)]
            texts = [b.text if a else p.text for p, b, a in zip(first, both, again)]
            print(f"| {stretch} | {threshold} | {per_char} | {sum(again)} ({100 * sum(again) / len(images):.1f}%) "
                  f"| {acc36(texts, labels):.2f} |", flush=True)


if __name__ == "__main__":
    main()
