"""How much a reading depends on the other words in its batch.

    python benchmarks/batch_effect.py [--sets ../shared/data/benchmarks/*] [--checkpoint X.ckpt]

Reads every word of the benchmark folders one at a time and in batches of 64 (in their
order, so each batch holds other words), with the default settings and with PyTorch fp32
best path, and prints one Markdown table: how many readings changed text, and the largest,
99th-percentile and median change of confidence. Two causes are known: the int8 export
quantises its LSTM dynamically, with the input's range taken over the whole batch; and in
every backend the padding right of a word (batches are padded to their widest word) reaches
the last few steps through the convolutions' borders.
"""
from __future__ import annotations

import argparse
import statistics

from ocr import Recognizer
from ocr.data.labels import read_label_file
from ocr.data.transforms import load_image
from common import benchmark_sets

SETTINGS = {  # row name: Recognizer.load options
    "default (auto backend and precision, lm decoder)": {},
    "PyTorch fp32, best path": {"backend": "torch", "precision": "fp32", "decoder": "greedy"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped model")
    parser.add_argument("--sets", nargs="*", default=benchmark_sets())
    args = parser.parse_args()
    images = [load_image(path) for folder in args.sets for path, _ in read_label_file(folder)]
    print(f"{len(images)} words, read one at a time and in batches of 64\n")
    print("| setting | texts changed | confidence change: max | 99th percentile | median |\n|---|---|---|---|---|")
    for name, options in SETTINGS.items():
        rec = Recognizer.load(args.checkpoint, **options)
        alone = [rec.read([image])[0] for image in images]
        batched = rec.read(images)
        changes = sorted(abs(a.confidence - b.confidence) for a, b in zip(alone, batched))
        texts = sum(a.text != b.text for a, b in zip(alone, batched))
        print(f"| {name} | {texts} of {len(images)} | {changes[-1]:.4f} | {changes[int(0.99 * (len(changes) - 1))]:.4f} "
              f"| {statistics.median(changes):.5f} |", flush=True)


if __name__ == "__main__":
    main()
