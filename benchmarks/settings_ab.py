"""Two reading settings in one process, call by call in turn: the ratio of their times.

    python benchmarks/settings_ab.py unbend=False [--baseline ...] [--call 64] [--rounds 3]

Each side is a Recognizer loaded with the given keyword settings (``name=value``, values as
Python literals; none: the defaults). Both read the same calls of ``--call`` benchmark
words, the two taking turns to go first (``common.in_turn``), so a machine that drifts
by a fifth between runs minutes apart (docs/speed_log.md) moves both alike, and settings a
few percent apart can be ranked, which two runs of speed.py cannot. Prints the words/s of
each side, the ratio of their times (B over A) and how many readings of the first round
differ. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import ast

from common import benchmark_sets, in_turn
from speed import labelled_words

from ocr import Recognizer


def settings(pairs: list[str]) -> dict[str, object]:
    """``["name=value", ...]`` as keyword arguments for :meth:`Recognizer.load`."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"{pair}: a setting is name=value, e.g. unbend=False")
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name] = value  # a bare word: a string such as a decoder's name
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidate", nargs="*", metavar="NAME=VALUE", help="side B's settings")
    parser.add_argument("--baseline", nargs="*", default=[], metavar="NAME=VALUE", help="side A's (default: the defaults)")
    parser.add_argument("--call", type=int, default=64, help="words per call (default 64)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--words", type=int, default=2240, help="the first this many benchmark words")
    args = parser.parse_args()
    images = [image for image, _ in labelled_words(benchmark_sets())][: args.words]
    sides = [Recognizer.load(**settings(args.baseline)), Recognizer.load(**settings(args.candidate))]
    for rec in sides:
        rec.read(images[: args.call])  # workers started, letter model loaded
    calls = [images[start : start + args.call] for start in range(0, len(images), args.call)]
    texts: tuple[list[str], list[str]] = ([], [])

    def reader(side: int):
        def read(call: list) -> None:
            readings = [p.text for p in sides[side].read(call)]
            if len(texts[side]) < len(images):  # the first round's
                texts[side].extend(readings)
        return read

    times = in_turn(reader(0), reader(1), calls * args.rounds)
    seconds = [sum(t) for t in times]
    words = args.rounds * len(images)
    differ = sum(a != b for a, b in zip(*texts))
    print(f"calls of {args.call}, {len(images)} words x {args.rounds} rounds: A {words / seconds[0]:.0f} words/s, "
          f"B {words / seconds[1]:.0f} words/s; B/A time {seconds[1] / seconds[0]:.3f}; {differ} readings differ")


if __name__ == "__main__":
    main()
