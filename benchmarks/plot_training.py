"""Plot validation accuracy (acc36) per set against training time from a run's metrics.csv.

    python benchmarks/plot_training.py runs/default_model --out docs/default_model_training.png \
        [--compare runs/earlier_run --compare-label "earlier recipe"]

Training time is estimated per validation from the checkpoints' pace: the run's wall time
(config.yaml to last.ckpt) spread over its steps.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def validation_rows(run: Path) -> tuple[list[int], dict[str, list[float]]]:
    """Steps of each validation and acc36 per validation set."""
    with open(run / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if any(k.endswith("/acc36") and v for k, v in r.items())]
    sets = sorted({k[: -len("/acc36")] for r in rows for k, v in r.items() if k.endswith("/acc36") and v})
    steps = [int(r["step"]) + 1 for r in rows]
    return steps, {s: [float(r[f"{s}/acc36"]) for r in rows] for s in sets}


def run_minutes(run: Path) -> float:
    """Wall time from the run's start (config.yaml) to its last checkpoint."""
    return ((run / "checkpoints" / "last.ckpt").stat().st_mtime - (run / "config.yaml").stat().st_mtime) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="run folder (metrics.csv, config.yaml, checkpoints/last.ckpt)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--minutes", type=float, help="wall time of the whole run, if the files' times do not tell")
    parser.add_argument("--compare", type=Path, help="an earlier run, drawn dashed (real-photo sets only)")
    parser.add_argument("--compare-label", default="earlier run", help="legend name of --compare")
    args = parser.parse_args()
    steps, sets = validation_rows(args.run)
    minutes = args.minutes or run_minutes(args.run)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {}
    for name, values in sets.items():
        label = "synthetic validation" if name == "val" else name
        (line,) = ax.plot([s * minutes / max(steps) for s in steps], [100 * v for v in values], marker="o",
                          markersize=3, label=label)
        colours[name] = line.get_color()
    if args.compare:
        old_steps, old_sets = validation_rows(args.compare)
        old_minutes = run_minutes(args.compare)
        for name, values in old_sets.items():
            if name != "val" and name in colours:
                ax.plot([s * old_minutes / max(old_steps) for s in old_steps], [100 * v for v in values], "--",
                        color=colours[name], alpha=0.6, label=f"{name}, {args.compare_label}")
    ax.set(xlabel="training time on 2 CPU cores (minutes)", ylabel="word accuracy acc36 (%)",
           title=f"{args.run.name}: {max(steps)} steps, {minutes:.0f} min")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
