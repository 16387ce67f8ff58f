"""How well models read real words bent along arcs or seen at an angle: a stand-in for
curved and perspective test sets.

    python benchmarks/bent_holdout.py data/models/default.ckpt runs/candidate/default.ckpt [--bends 0 0.3 0.6]
    python benchmarks/bent_holdout.py data/models/default.ckpt --arcs 0 60 120 180
    python benchmarks/bent_holdout.py data/models/default.ckpt --perspectives 0 0.1 0.2 0.3

The real validation split (``--holdout`` of each ``--folders``, as training keeps it out) is
read as it is and bent with the training augmentation's ``curve`` (ocr/data/augment.py) at
each ``--bends`` strength (the middle of the word raised or sunk by up to that fraction of
its height), or with ``--arcs``, laid along circles of exactly that many degrees (``arc``:
the letters turned too), or with ``--perspectives``, the crop's corners moved outwards by up
to that fraction of its size (``warp`` with ``perspective_outward``, no turn or shear);
seeded, so every model sees the same images. One Markdown table of acc36 with the default
settings (``--second-opinion`` as predict.py's), a row per checkpoint. No benchmark photo is used.
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
    parser.add_argument("--arcs", type=float, nargs="*", help="degrees of a circle (instead of --bends)")
    parser.add_argument("--perspectives", type=float, nargs="*",
                        help="how far each corner moves outwards, as a fraction of the size (instead of --bends)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--second-opinion", default="auto",
                        help="as predict.py's: auto (the shipped one with the shipped model), none, or a checkpoint")
    args = parser.parse_args()
    words = held_out_crops(args.folders, args.holdout)
    kinds = {  # option: (column label, the augmentation of a strength above 0)
        "arcs": ("arc of {:g} degrees", lambda a: PhotoAugment({"arc": 1.0}, arc_degrees=(a, a))),
        "perspectives": ("perspective up to {:g}", lambda p: PhotoAugment(
            {"warp": 1.0}, max_angle=0.0, max_shear=0.0, max_perspective=p, perspective_outward=True)),
        "bends": ("bend up to {:g}", lambda b: PhotoAugment({"curve": 1.0}, max_bend=b)),
    }
    kind = next((k for k in kinds if getattr(args, k)), "bends")
    label, make = kinds[kind]
    benders = {label.format(x): make(x) if x > 0 else None for x in getattr(args, kind)}  # 0: the crops as they are
    views = {}
    for name, bender in benders.items():
        rng = random.Random(args.seed)
        views[name] = [bender(image, rng) if bender else image for image, _ in words]
    print(f"{len(words)} held-out real words; acc36 with the default settings\n")
    print("| checkpoint | " + " | ".join(views) + " |")
    print("|---|" + "---|" * len(views))
    for checkpoint in args.checkpoints:
        rec = Recognizer.load(checkpoint, second_opinion=args.second_opinion)
        cells = []
        for view in views.values():
            scores = WordScores()
            for prediction, (_, label) in zip(rec.read(view), words):
                scores.add(prediction.text, label)
            cells.append(f"{100 * scores.summary()['acc36']:.1f}")
        print(f"| {checkpoint} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
