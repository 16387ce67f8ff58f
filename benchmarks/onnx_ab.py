"""Two exported models run in turn in one process: which is faster, on a machine whose speed drifts.

    python benchmarks/onnx_ab.py OLD.onnx NEW.onnx [--runs 60] [--threads 1]

For one word of 100 columns, 32 words of 112 columns and the same 32 with one padded, runs
the two models' sessions alternately (old-new, then new-old) and prints the median ms per
run of each and new / old, as a Markdown table. This machine's speed swings by a fifth
between runs minutes apart (docs/speed_log.md), so separate runs of ``speed.py`` cannot
rank a change of 10%; runs taken in turn share the swings, and their ratio holds.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import onnxruntime

from common import in_turn, onnx_feed

CASES = (("one word of 100 columns", 1, 100, False), ("32 words of 112 columns", 32, 112, False),
         ("32 words, one padded, 112 columns", 32, 112, True))


def alternating_ms(old: onnxruntime.InferenceSession, new: onnxruntime.InferenceSession, feed: dict,
                   runs: int) -> tuple[float, float]:
    """Median ms per run of ``old`` and of ``new`` on ``feed``, ``runs`` of each, taken in turn."""
    for session in (old, new):
        session.run(None, feed)  # warm-up
    times = in_turn(lambda f: old.run(None, f), lambda f: new.run(None, f), [feed] * runs)
    return statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--runs", type=int, default=60,
                        help="runs of each model per batch of 32 (of one word: 8 times as many)")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads of each session (the reading path's: 1)")
    args = parser.parse_args()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    old, new = (onnxruntime.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
                for p in (args.old, args.new))
    print(f"{args.old} against {args.new}, {args.threads} thread(s), onnxruntime {onnxruntime.__version__}\n")
    print("| input | old, ms | new, ms | new / old |\n|---|---|---|---|")
    for name, batch, width, padded in CASES:
        runs = args.runs * (8 if batch == 1 else 1)
        old_ms, new_ms = alternating_ms(old, new, onnx_feed(batch, width, padded), runs)
        print(f"| {name} | {old_ms:.3f} | {new_ms:.3f} | {new_ms / old_ms:.3f} |")


if __name__ == "__main__":
    main()
