"""Score a model on labelled folders: python evaluate.py DIR [DIR ...] [--checkpoint X.ckpt] [--json FILE] [--errors FILE]."""
import argparse
import sys

from ocr.reading.cli import add_model_arguments
from ocr.reading.commands import evaluate


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dirs", nargs="+", help="folders holding images/ and labels.tsv")
    parser.add_argument("--json", dest="json_path", help="also write the numbers to this JSON file")
    parser.add_argument("--errors", help="write the misread words (acc36) to this TSV file, least confident first")
    parser.add_argument("--holdout", type=float, metavar="FRACTION",
                        help="score only the part of each folder that training with data.holdout=FRACTION kept out")
    parser.add_argument("--holdout-seed", type=int, default=0, help="the data.holdout_seed of that training run")
    add_model_arguments(parser)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(evaluate(parse_args()))
