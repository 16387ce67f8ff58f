"""``python -m ocr.text.build_language_model``: build the letter n-gram model of the ``lm`` decoder
from wordfreq (by default the shipped English ``data/models/english.lm.npz``; ``--language
de --out german.lm.npz`` for another language, used with ``--language-model``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ocr.assets import DEFAULT_LM
from ocr.text.language_model import ORDER, VOCABULARY, CharNgram


def main() -> None:
    """Count wordfreq's most frequent words of a language into a letter n-gram model and save it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(DEFAULT_LM), help="where to write it (a compressed numpy archive)")
    parser.add_argument("--language", default="en", help="wordfreq language code (en, de, fr, es, ...)")
    parser.add_argument("--vocabulary", type=int, default=VOCABULARY, help="most frequent words to count")
    parser.add_argument("--order", type=int, default=ORDER, help="letters of history plus one")
    args = parser.parse_args()
    try:
        model = CharNgram.from_wordfreq(args.language, args.vocabulary, args.order)
    except (LookupError, ValueError) as err:
        sys.exit(f"error: {err}")
    model.save(args.out)
    print(f"{args.out}: {Path(args.out).stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
