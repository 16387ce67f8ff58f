"""See BPTT at work: per-step hidden-state gradients and per-group gradient norms.

Every ``every_n_steps`` training steps :class:`GradientFlowMonitor` records
- ``grad_h/<layer>_<fwd|bwd>/t<step>``: the batch-mean norm of dL/dh_t for every time step
  (needs ``rnn.impl=unrolled``; fused kernels hide their hidden states),
- ``grad_norm_before/<group>`` and ``grad_norm_after/<group>``: the gradient norm of the
  backbone, the recurrent layers and the classifier, before and after clipping,
writes them to the run's CSV log, and at the end draws PNGs in ``<run>/gradients/``.
:func:`gradient_reach` measures vanishing directly: the gradient of a loss on the last step
only, as it arrives at each earlier step.
"""
from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch

from ocr.models.unrolled import UnrolledRNN

log = logging.getLogger(__name__)
GROUPS = ("backbone", "sequence", "classifier")


def group_grad_norms(model: torch.nn.Module) -> dict[str, float]:
    """Gradient norm of each top-level part of the CRNN."""
    norms = {}
    for group in GROUPS:
        grads = [p.grad for p in getattr(model, group).parameters() if p.grad is not None]
        norms[group] = torch.nn.utils.get_total_norm(grads).item() if grads else 0.0
    return norms


class GradientFlowMonitor(L.Callback):
    """Record gradient flow through time every ``every_n_steps`` steps; plot it into ``out_dir``."""

    def __init__(self, every_n_steps: int, out_dir: str | Path) -> None:
        self.every_n_steps, self.out_dir = every_n_steps, Path(out_dir)
        self.records: list[dict] = []  # {"step", "hidden": {name: [norm per t]}, "before", "after"}
        self._current: dict | None = None

    def _rnn(self, module: L.LightningModule):
        return module.model.sequence.rnn

    def on_train_start(self, trainer, module) -> None:
        if not isinstance(self._rnn(module), UnrolledRNN):
            log.warning("per-step hidden gradients need rnn.impl=unrolled; recording gradient norms only")

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self._current = {"step": trainer.global_step}
            if isinstance(rnn := self._rnn(module), UnrolledRNN):
                rnn.record_hidden_grads = True

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        if self._current is not None:
            self._current["before"] = group_grad_norms(module.model)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self._current is None:
            return
        record, self._current = self._current, None
        rnn = self._rnn(module)
        if isinstance(rnn, UnrolledRNN):
            rnn.record_hidden_grads = False
            record["hidden"] = dict(rnn.hidden_grad_norms)
        if "before" not in record:  # the step was skipped (non-finite loss)
            return
        record["after"] = group_grad_norms(module.model)
        self.records.append(record)
        metrics = {f"grad_norm_{when}/{g}": v for when in ("before", "after") for g, v in record[when].items()}
        for name, norms in record.get("hidden", {}).items():
            metrics |= {f"grad_h/{name}/t{t:03d}": v for t, v in enumerate(norms)}
        if trainer.logger is not None:
            trainer.logger.log_metrics(metrics, step=record["step"])

    def on_train_end(self, trainer, module) -> None:
        if self.records and trainer.is_global_zero:
            plot_gradient_flow(self.records, self.out_dir)

    def on_exception(self, trainer, module, exception: BaseException) -> None:
        self.on_train_end(trainer, module)  # a run stopped by exploding gradients is worth seeing too


def gradient_reach(model: torch.nn.Module, images: torch.Tensor, widths: torch.Tensor) -> dict[str, list[float]]:
    """``||dL_T/dh_t||`` for every step t, layer and direction, where ``L_T`` is a loss on the
    last time step only (minus the log-probability of its best class): how much of one output's
    gradient reaches earlier steps through the recurrence. Vanishing gradients show as a decay
    with the distance ``T - t``. The CRNN must use ``rnn.impl=unrolled``; give full-width images."""
    rnn = model.sequence.rnn
    if not isinstance(rnn, UnrolledRNN):
        raise ValueError("gradient_reach needs rnn.impl=unrolled")
    rnn.record_hidden_grads = True
    try:
        model.zero_grad(set_to_none=True)
        log_probs = model(images, widths)
        (-log_probs[-1].max(-1).values.sum()).backward()
        return dict(rnn.hidden_grad_norms)
    finally:
        rnn.record_hidden_grads = False
        model.zero_grad(set_to_none=True)


def plot_gradient_flow(records: list[dict], out_dir: Path) -> list[Path]:
    """Heatmap of log10 ||dL/dh_t|| (time step x training step) per layer and direction, the
    last record's curves, and group norms before/after clipping. Returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    steps = [r["step"] for r in records]
    names = sorted(records[-1].get("hidden", {}))
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False)
        for ax, name in zip(axes[0], names):
            grid = torch.tensor([r["hidden"][name] for r in records])
            grid = grid.nan_to_num(nan=1e-12, posinf=1e38).clamp(1e-12, 1e38).log10()  # exploded steps stay visible
            im = ax.imshow(grid.T.numpy(), aspect="auto", origin="lower", cmap="viridis",
                           extent=(steps[0], steps[-1], 0, grid.shape[1]))
            ax.set(title=name, xlabel="training step", ylabel="time step t")
            fig.colorbar(im, ax=ax, label="log10 ||dL/dh_t||")
        fig.tight_layout()
        written.append(_save(fig, out_dir / "hidden_grad_heatmap.png"))

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name in names:
            ax.semilogy(records[-1]["hidden"][name], label=name)
        ax.set(title=f"||dL/dh_t|| at step {steps[-1]}", xlabel="time step t", ylabel="gradient norm")
        ax.legend()
        written.append(_save(fig, out_dir / "hidden_grad_last.png"))

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for group in GROUPS:
        line, = ax.semilogy(steps, [r["before"][group] for r in records], label=f"{group} before clipping")
        ax.semilogy(steps, [r["after"][group] for r in records], "--", color=line.get_color(), label=f"{group} after")
    ax.set(xlabel="training step", ylabel="gradient norm")
    ax.legend(fontsize=7)
    written.append(_save(fig, out_dir / "param_grad_norms.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
