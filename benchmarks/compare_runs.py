"""Compare training runs at equal steps: acc36 per real-photo set at every validation they share,
and the mean over a range of steps (single validations of one run differ by up to 3 points).

    python benchmarks/compare_runs.py runs/default_model_v3 runs/default_model_v5 [--from 4000 --to 12000]

Prints one Markdown table: a row per shared validation step, a column per run with the sets'
acc36 as "SVT / IC13 / IC03" (sets in name order), then the mean of each set over the steps
from ``--from`` to ``--to`` and its word-weighted total (a set's words are the number its
name ends in, e.g. SVT_647; otherwise it counts once). The synthetic ``val`` set is left out.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ocr.train.run_metrics import accuracy_by_set, validation_rows, validation_step


def accuracy_by_step(run: Path) -> dict[int, dict[str, float]]:
    """``{step: {set: acc36 %}}`` for the real-photo sets of ``run``."""
    rows = validation_rows(run)
    by_set = {name: values for name, values in accuracy_by_set(rows).items() if name != "val"}
    return {validation_step(r): {name: values[i] for name, values in by_set.items()} for i, r in enumerate(rows)}


def set_words(name: str) -> int:
    """The word count a set's name ends in (SVT_647: 647), else 1."""
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 1


def weighted(scores: dict[str, float]) -> float:
    return sum(set_words(s) * v for s, v in scores.items()) / sum(set_words(s) for s in scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (each with metrics.csv)")
    parser.add_argument("--from", dest="first", type=int, default=0, help="first step of the mean")
    parser.add_argument("--to", dest="last", type=int, help="last step of the mean (default: the last shared one)")
    args = parser.parse_args()
    runs = {run: accuracy_by_step(run) for run in args.runs}
    steps = sorted(set.intersection(*(set(by_step) for by_step in runs.values())))
    if not steps:
        raise SystemExit("the runs share no validation step")
    sets = sorted(set.intersection(*(set(by_step[steps[0]]) for by_step in runs.values())))
    if not sets:
        raise SystemExit("the runs share no real-photo validation set")
    print(f"acc36 (%) as {' / '.join(sets)}\n")
    print("| step | " + " | ".join(run.name for run in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for step in steps:
        cells = [" / ".join(f"{by_step[step][s]:.1f}" for s in sets) for by_step in runs.values()]
        print(f"| {step:,} | " + " | ".join(cells) + " |")
    last = args.last if args.last is not None else steps[-1]
    window = [s for s in steps if args.first <= s <= last]
    if not window:
        raise SystemExit(f"no shared validation between steps {args.first} and {last}")
    cells = []
    for by_step in runs.values():
        mean = {s: sum(by_step[step][s] for step in window) / len(window) for s in sets}
        cells.append(" / ".join(f"{mean[s]:.1f}" for s in sets) + f" (weighted {weighted(mean):.1f})")
    print(f"| mean of {len(window)} ({window[0]:,}-{window[-1]:,}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
