"""How well models read real words bent along arcs: a stand-in for curved test sets.

    python benchmarks/bent_holdout.py data/models/default.ckpt runs/candidate/default.ckpt [--bends 0 0.3 0.6]

The real validation split (``--holdout`` of each ``--folders``, as training keeps it out) is
read as it is and bent with the training augmentation's ``curve`` (ocr/data/augment.py) at
each ``--bends`` strength (the middle of the word raised or sunk by up to that fraction of
its height; seeded, so every model sees the same images); one Markdown table of acc36 with
the default settings, a row per checkpoint. No benchmark photo is used.
"""
from __future__ import annotations

import argparse
import random

from ocr import Recognizer
from ocr.data.augment import PhotoAugment
from ocr.text.metrics import WordScores
from common import held_out_crops, train_real_sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--folders", nargs="*", default=train_real_sets())
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--bends", type=float, nargs="*", default=[0.0, 0.3, 0.6])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    words = held_out_crops(args.folders, args.holdout)
    views = {}
    for bend in args.bends:
        bender = PhotoAugment({"curve": 1.0}, max_bend=bend) if bend > 0 else None
        rng = random.Random(args.seed)
        views[bend] = [bender(image, rng) if bender else image for image, _ in words]
    print(f"{len(words)} held-out real words; acc36 with the default settings\n")
    print("| checkpoint | " + " | ".join(f"bend up to {b:g}" for b in args.bends) + " |")
    print("|---|" + "---|" * len(args.bends))
    for checkpoint in args.checkpoints:
        rec = Recognizer.load(checkpoint)
        cells = []
        for bend in args.bends:
            scores = WordScores()
            for prediction, (_, label) in zip(rec.read(views[bend]), words):
                scores.add(prediction.text, label)
            cells.append(f"{100 * scores.summary()['acc36']:.1f}")
        print(f"| {checkpoint} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
