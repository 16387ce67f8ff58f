"""How the unbending's settings were chosen: on the real crops that training held out, as
they are and laid along arcs.

    python benchmarks/unbend.py [--checkpoint X.ckpt] [--arcs 0 60 120 180] [--spans 120 150] [--promise 0]

Lays the held-out crops of the real training folders (``data.holdout=0.1``, seed 0) along
circles of each ``--arcs`` degrees (the training augmentation's ``arc``, seeded as
``benchmarks/bent_holdout.py`` lays them; 0: as they are), reads them with the default
settings and no unbending, then with every word also read unbent along each set of
``--spans`` (arched and sagging), and prints, for each confidence threshold, widest aspect
and margin, the acc36 an :class:`~ocr.reading.unbend.Unbend` of those settings gets on each
arc and how many words it reads again (the cost) and changes. Views that the first network
reads below a word's confidence plus ``--promise`` go no further, as in the default path
(``-inf``: every view through the whole path). Benchmark photos choose
nothing here. The unbending inverts the very arcs that lay these crops, so the bent columns
flatter it: real curved lettering is less regular.
"""
from __future__ import annotations

import argparse
import itertools
import math
import random

from common import acc36, held_out_crops, train_real_sets
from ocr import Recognizer
from ocr.data.augment import PhotoAugment
from ocr.reading.unbend import Unbend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped model")
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--arcs", type=float, nargs="*", default=[0, 60, 120, 180])
    parser.add_argument("--spans", type=float, nargs="+", action="append",
                        help="a set of spans (degrees) to unbend along; repeat for more sets (default: 120, 150, "
                             "and 120 150)")
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.3, 0.5, 0.7])
    parser.add_argument("--aspects", type=float, nargs="*", default=[2.5, 3.0, math.inf])
    parser.add_argument("--margins", type=float, nargs="*", default=[0.1, 0.2, 0.3])
    parser.add_argument("--promise", type=float, default=Unbend.promise)
    args = parser.parse_args()
    span_sets = [tuple(s) for s in args.spans or [[120.0], [150.0], [120.0, 150.0]]]
    crops = held_out_crops(train_real_sets(), args.holdout)
    labels = [label for _, label in crops]
    rec = Recognizer.load(args.checkpoint, unbend=False)
    firsts, boths, views = {}, {}, {}
    for arc in args.arcs:
        rng = random.Random(0)
        bender = PhotoAugment({"arc": 1.0}, arc_degrees=(arc, arc)) if arc else None
        views[arc] = [bender(image, rng) if bender else image for image, _ in crops]
        rec.unbend = None
        firsts[arc] = rec.read(views[arc])
        for spans in span_sets:  # every word read unbent too: the more confident reading kept
            rec.unbend = Unbend(threshold=math.inf, max_aspect=math.inf, spans=spans, margin=-math.inf,
                                promise=args.promise)
            boths[arc, spans] = rec.read(views[arc])
    print(f"{len(crops)} held-out real crops laid along arcs of {', '.join(f'{a:g}' for a in args.arcs)} degrees; "
          "acc36 with the default settings, each cell: acc36 (words read again, words changed)\n")
    print("| spans | threshold | widest aspect | margin | "
          + " | ".join(f"arc {a:g}" for a in args.arcs) + " |\n|---|---|---|---|" + "---|" * len(args.arcs))
    print("| no unbending | | | | " + " | ".join(f"{acc36([p.text for p in firsts[a]], labels):.1f}"
                                              for a in args.arcs) + " |")
    for spans, threshold, aspect, margin in itertools.product(span_sets, args.thresholds, args.aspects, args.margins):
        unbend = Unbend(threshold, aspect, spans, margin, args.promise)
        cells = []
        for arc in args.arcs:
            again = [unbend.wants(p, view) for p, view in zip(firsts[arc], views[arc])]
            texts = [b.text if a and unbend.prefers(b, p) else p.text
                     for p, b, a in zip(firsts[arc], boths[arc, spans], again)]
            changed = sum(t != p.text for t, p in zip(texts, firsts[arc]))
            cells.append(f"{acc36(texts, labels):.1f} ({sum(again)}, {changed})")
        print(f"| {' '.join(f'{s:g}' for s in spans)} | {threshold:g} | {aspect:g} | {margin:g} | "
              + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
