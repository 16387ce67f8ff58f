"""Run the BPTT experiments and write their plots and tables to docs/gradients/.

    python benchmarks/gradients_report.py                 # train all three sweeps, then report
    python benchmarks/gradients_report.py --skip-training # report on existing runs

Experiments (configs/experiment): cells (rnn vs lstm vs gru), clipping (none vs norm vs
value, exploding initialisation), long_sequences (97 time steps: rnn vs lstm).
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from ocr.config import compose_config  # noqa: E402
from ocr.data.batch import pad_images  # noqa: E402
from ocr.data.datasets import synthetic_words  # noqa: E402
from ocr.models import build_model  # noqa: E402
from ocr.reading.checkpoint import load_model  # noqa: E402
from ocr.train.diagnostics import gradient_reach  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = {"cells": "rnn", "clipping": "clip", "long_sequences": "rnn"}
OUT = ROOT / "docs" / "gradients"


def run_sweep(name: str) -> None:
    """Train every variant; one that stops (e.g. too many non-finite steps) is reported as it ended."""
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", f"experiment={name}"], cwd=ROOT)
    if done.returncode:
        print(f"warning: a run of experiment={name} stopped early; see its log above", file=sys.stderr)


def read_run(run: Path, swept: str) -> dict:
    """Variant name, metric rows and summary numbers of one run folder."""
    overrides = yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
    variant = next(o.split("=", 1)[1] for o in overrides if o.startswith(f"{swept}="))
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    val = [(int(r["step"]), float(r["val/acc36"]), float(r["val/cer"])) for r in rows if r.get("val/acc36")]
    grads = [r for r in rows if r.get("grad_norm_before/sequence")]
    skipped = max((float(r["train/skipped_steps"]) for r in rows if r.get("train/skipped_steps")), default=0.0)
    minutes = ((run / "metrics.csv").stat().st_mtime - (run / "config.yaml").stat().st_mtime) / 60
    return {
        "folder": run, "variant": variant, "val": val, "grads": grads, "steps": max(int(r["step"]) for r in rows),
        "acc36": val[-1][1] if val else float("nan"), "cer": val[-1][2] if val else float("nan"),
        "skipped": int(skipped), "minutes": minutes,
        "max_grad": max(float(r["grad_norm_before/sequence"]) for r in grads) if grads else float("nan"),
    }


def hidden_curve(record: dict, name: str) -> list[float]:
    keys = sorted(k for k in record if k.startswith(f"grad_h/{name}/t") and record[k])
    return [float(record[k]) for k in keys]


def plot_experiment(name: str, runs: list[dict]) -> list[str]:
    """Three panels: ||dL/dh_t|| along time (first layer, forward, last record), group gradient
    norm before clipping over training, and validation accuracy over training."""
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 3.6))
    for run in runs:
        if run["grads"]:
            a.semilogy(hidden_curve(run["grads"][-1], "l0_fwd"), label=run["variant"])
            b.semilogy([int(r["step"]) for r in run["grads"]], [float(r["grad_norm_before/sequence"]) for r in run["grads"]],
                       label=run["variant"])
        c.plot([s for s, _, _ in run["val"]], [100 * acc for _, acc, _ in run["val"]], marker="o", label=run["variant"])
    a.set(title="||dL/dh_t||, layer 1 forward, end of training", xlabel="time step t")
    b.set(title="recurrent-layer gradient norm (before clipping)", xlabel="training step")
    c.set(title="validation word accuracy (%)", xlabel="training step")
    for ax in (a, b, c):
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = OUT / f"{name}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    images = [path.name]
    for run in runs:  # each run's heatmap of ||dL/dh_t|| (time step x training step), drawn by the monitor
        heatmap = run["folder"] / "gradients" / "hidden_grad_heatmap.png"
        if heatmap.is_file():
            copy = OUT / f"{name}_{run['variant']}_heatmap.png"
            shutil.copyfile(heatmap, copy)
            images.append(copy.name)
    return images


def reach_curves(run: Path) -> dict[str, list[float]]:
    """Gradient reach (ocr.train.diagnostics.gradient_reach) of layer 1, forward direction, at
    initialisation and after training, on 16 rendered random strings of 14-22 characters."""
    loaded = load_model(run / "checkpoints" / "last.ckpt")
    cfg = compose_config(["data.synth.text.p_random=1.0", "data.synth.text.random_length=[14,22]"])
    words = synthetic_words(OmegaConf.to_container(cfg.data.synth, resolve=True), loaded.charset, loaded.preprocess,
                            16, 0)
    images, _ = pad_images([words[i].image for i in range(len(words))])
    widths = torch.full((len(words),), images.shape[-1])  # padding counts as input: full-length sequences
    torch.manual_seed(0)
    initial = build_model(loaded.charset.num_classes, loaded.hparams["model"], loaded.hparams["rnn"]).eval()
    return {stage: gradient_reach(model, images, widths)["l0_fwd"]
            for stage, model in (("initialisation", initial), ("trained", loaded.model))}


def plot_reach(name: str, runs: list[dict]) -> str:
    """How much of a last-step loss's gradient arrives k steps back, relative to k = 0."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for run in runs:
        curves, color = reach_curves(run["folder"]), None
        for stage, style in (("initialisation", "--"), ("trained", "-")):
            back = curves[stage][::-1]  # index k: k steps before the loss
            line, = ax.semilogy([g / back[0] for g in back], style, label=f"{run['variant']}, {stage}", color=color)
            color = line.get_color()  # one colour per variant
    ax.set(title="gradient of a loss on the last step, k steps back", xlabel="k (time steps before the loss)",
           ylabel="||dL_T/dh_(T-k)|| / ||dL_T/dh_T||")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = OUT / f"{name}_reach.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def table(runs: list[dict], swept: str) -> str:
    lines = [f"| {swept} | steps | minutes | val acc36 | val CER | max recurrent grad norm | skipped steps |",
             "|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['variant']} | {r['steps']} | {r['minutes']:.1f} | {100 * r['acc36']:.1f} | "
                     f"{100 * r['cer']:.1f} | {r['max_grad']:.3g} | {r['skipped']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-training", action="store_true", help="report on runs/experiments/* as they are")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    sections = ["# BPTT experiment results\n", "Generated by `python benchmarks/gradients_report.py`; "
                "see docs/gradients.md for what they show.\n"]
    for name, swept in EXPERIMENTS.items():
        if not args.skip_training:
            run_sweep(name)
        folders = sorted(p for p in (ROOT / "runs" / "experiments" / name).iterdir() if (p / "metrics.csv").is_file())
        runs = [read_run(p, swept) for p in folders]
        images = [*plot_experiment(name, runs), plot_reach(name, runs)]
        sections += [f"## {name}\n", table(runs, swept) + "\n", *[f"![{name}]({img})\n" for img in images]]
    (OUT / "results.md").write_text("\n".join(sections))
    print(f"wrote {OUT / 'results.md'}")


if __name__ == "__main__":
    main()
