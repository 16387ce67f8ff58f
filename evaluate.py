"""Score a model on labelled folders: python evaluate.py DIR [DIR ...] [--checkpoint X.ckpt] (= ocr evaluate)."""
import sys

from ocr.reading.commands import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
