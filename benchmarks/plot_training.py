"""Plot validation accuracy (acc36) per set against training time from a run's metrics.csv.

    python benchmarks/plot_training.py runs/default_model --out docs/default_model_training.png \
        [--compare runs/earlier_run --compare-label "earlier recipe"] [--final scores.json]

Training time is the ``time/minutes`` the run logs at every validation (carried across
resumed sessions); for runs without it (older runs, or one resumed from such a run), the
run's wall time (config.yaml to last.ckpt, or ``--minutes``) spread evenly over its steps.
The logged accuracies are best-path readings; ``--final`` (``evaluate.py --json``) marks the
finished model's scores with another decoder at the run's end.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ocr.train.run_metrics import MINUTES_KEY, accuracy_by_set, validation_rows, validation_step  # noqa: E402


def validation_minutes(run: Path, rows: list[dict[str, str]], minutes: float | None = None) -> list[float]:
    """Training minutes at each validation: logged, or the run's wall time spread over its steps."""
    if all(r.get(MINUTES_KEY) for r in rows):
        return [float(r[MINUTES_KEY]) for r in rows]
    if minutes is None:
        minutes = ((run / "checkpoints" / "last.ckpt").stat().st_mtime - (run / "config.yaml").stat().st_mtime) / 60
    steps = [validation_step(r) for r in rows]
    return [s * minutes / max(steps) for s in steps]


def validation_rows_or_exit(run: Path) -> list[dict[str, str]]:
    """The run's validation rows; a run with no metrics.csv or no validation yet exits with one line."""
    metrics = run / "metrics.csv"
    if not metrics.is_file():
        sys.exit(f"error: {metrics}: no such file (not a run folder, or the run logged nothing yet)")
    rows = validation_rows(run)
    if not rows:
        sys.exit(f"error: {metrics}: no validation yet (runs validate every trainer.val_check_interval steps "
                 "and at their last step)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="run folder (metrics.csv, config.yaml, checkpoints/last.ckpt)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--minutes", type=float, help="wall time of the whole run, for runs that did not log it")
    parser.add_argument("--compare", type=Path, help="an earlier run, drawn dashed (real-photo sets only)")
    parser.add_argument("--compare-label", default="earlier run", help="legend name of --compare")
    parser.add_argument("--final", type=Path, help="evaluate.py --json scores of the finished model, starred at the end")
    parser.add_argument("--final-label", default="finished model, lm decoder (evaluate.py defaults)",
                        help="legend name of --final")
    args = parser.parse_args()
    rows = validation_rows_or_exit(args.run)
    times = validation_minutes(args.run, rows, args.minutes)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {}
    for name, values in accuracy_by_set(rows).items():
        label = "synthetic validation" if name == "val" else name
        (line,) = ax.plot(times, values, marker="o", markersize=3, label=label)
        colours[name] = line.get_color()
    if args.compare:
        old_rows = validation_rows_or_exit(args.compare)
        old_times = validation_minutes(args.compare, old_rows)
        for name, values in accuracy_by_set(old_rows).items():
            if name != "val" and name in colours:
                ax.plot(old_times, values, "--", color=colours[name], alpha=0.6, label=f"{name}, {args.compare_label}")
    if args.final:
        final = json.loads(args.final.read_text())["sets"]
        starred = [name for name in colours if name in final]
        for k, name in enumerate(starred):
            ax.plot([times[-1]], [100 * final[name]["acc36"]], "*", markersize=12, color=colours[name],
                    markeredgecolor="black", label=args.final_label if k == 0 else None)
    ax.set(xlabel="training time on 2 CPU cores (minutes)", ylabel="word accuracy acc36 (%)",
           title=f"{args.run.name}: {validation_step(rows[-1])} steps, {times[-1]:.0f} min")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
