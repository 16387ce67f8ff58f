"""How the second opinion's threshold was chosen: on the real crops that training held out.

    python benchmarks/second_opinion.py [--checkpoint X.ckpt] [--second Y.ckpt] [--holdout 0.1]

Reads the held-out crops of the real training folders (``data.holdout=0.1``, seed 0) with
the default settings, without a second opinion and then with one at each ``--thresholds``
(the first network's best-path confidence below which the second reads the word too), and
prints how many words the second network read and the acc36 each gets. Benchmark photos
choose nothing here.
"""
from __future__ import annotations

import argparse

from common import acc36, held_out_crops, train_real_sets
from ocr import Recognizer
from ocr.assets import DEFAULT_SECOND_OPINION


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped model")
    parser.add_argument("--second", default=str(DEFAULT_SECOND_OPINION), help="the second model")
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.3, 0.5, 0.7, 0.9, 1.01])
    args = parser.parse_args()
    crops = held_out_crops(train_real_sets(), args.holdout)
    images, labels = [image for image, _ in crops], [label for _, label in crops]
    rec = Recognizer.load(args.checkpoint, second_opinion=args.second)
    opinion = rec.second_opinion
    rec.second_opinion = None
    print(f"{len(images)} held-out real crops; no second opinion: acc36 {acc36([p.text for p in rec.read(images)], labels):.2f}\n")
    rec.second_opinion = opinion
    print("| threshold | network readings by the second | acc36 |\n|---|---|---|")
    for threshold in args.thresholds:
        opinion.threshold, opinion.words_read = threshold, 0
        texts = [p.text for p in rec.read(images)]
        print(f"| {threshold} | {opinion.words_read} | {acc36(texts, labels):.2f} |", flush=True)


if __name__ == "__main__":
    main()
