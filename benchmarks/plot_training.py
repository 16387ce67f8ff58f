"""Plot validation accuracy (acc36) per set against training time from a run's metrics.csv.

    python benchmarks/plot_training.py runs/default_model --out docs/default_model_training.png

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="run folder (metrics.csv, config.yaml, checkpoints/last.ckpt)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--minutes", type=float, help="wall time of the whole run, if the files' times do not tell")
    args = parser.parse_args()
    steps, sets = validation_rows(args.run)
    minutes = args.minutes or ((args.run / "checkpoints" / "last.ckpt").stat().st_mtime
                               - (args.run / "config.yaml").stat().st_mtime) / 60
    per_step = minutes / max(steps)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, values in sets.items():
        label = "synthetic validation" if name == "val" else name
        ax.plot([s * per_step for s in steps], [100 * v for v in values], marker="o", label=label)
    ax.set(xlabel="training time on 2 CPU cores (minutes)", ylabel="word accuracy acc36 (%)",
           title=f"{args.run.name}: {max(steps)} steps, {minutes:.0f} min")
    ax.grid(alpha=0.3)
    ax.legend()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
