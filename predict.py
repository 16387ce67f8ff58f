"""Read the word in each image: python predict.py IMG|DIR|GLOB [...] [--checkpoint X.ckpt]."""
import argparse
import sys

from ocr.reading.cli import add_model_arguments
from ocr.reading.commands import predict


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("--format", choices=("text", "json", "tsv"), default="text", help="output format")
    add_model_arguments(parser)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(predict(parse_args()))
