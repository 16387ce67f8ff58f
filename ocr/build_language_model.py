"""``python -m ocr.build_language_model``: build the English letter n-gram model of the ``lm``
decoder from wordfreq (the shipped ``data/models/english.lm.json.gz``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ocr.language_model import DEFAULT_LM, CharNgram


def main() -> None:
    """Count wordfreq's most frequent English words into a letter n-gram model and save it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(DEFAULT_LM), help="where to write it (gzipped JSON)")
    parser.add_argument("--vocabulary", type=int, default=100000, help="most frequent English words to count")
    parser.add_argument("--order", type=int, default=6, help="letters of history plus one")
    args = parser.parse_args()
    CharNgram.english(args.vocabulary, args.order).save(args.out)
    print(f"{args.out}: {Path(args.out).stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
