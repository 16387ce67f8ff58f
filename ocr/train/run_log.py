"""What a run records about itself: one metrics.csv across resumed sessions, its training
time and its progress bar (read back by :mod:`ocr.train.run_metrics`)."""
from __future__ import annotations

import csv
import time

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import convert_inf
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from ocr.train.run_metrics import MINUTES_KEY


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that an existing metrics.csv (a resumed run) is kept and
    appended to instead of deleted."""

    def _check_log_dir_exists(self) -> None:  # Lightning's hook that deletes it (tests/test_training.py guards this)
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = sorted(csv.DictReader(f).fieldnames or [])


class RunLogger(CSVLogger):
    """A CSVLogger whose metrics.csv survives resuming a run in its own folder."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


class TrainingClock(L.Callback):
    """Logs ``time/minutes`` at every validation: wall minutes spent in ``fit`` (validations
    included), carried over in checkpoints so a resumed run keeps counting."""

    def __init__(self) -> None:
        self.carried = 0.0  # seconds from earlier sessions
        self.started: float | None = None

    def minutes(self) -> float:
        """Training minutes so far, earlier sessions included."""
        running = time.monotonic() - self.started if self.started is not None else 0.0
        return (self.carried + running) / 60

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.started = time.monotonic()

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            module.log(MINUTES_KEY, self.minutes())

    def state_dict(self) -> dict:
        return {"seconds": 60 * self.minutes()}

    def load_state_dict(self, state: dict) -> None:
        self.carried = float(state["seconds"])


class ResumingProgressBar(TQDMProgressBar):
    """Lightning's progress bar, which after a resume shows the epoch's total and counts its
    rate, and so its ETA, from the batch it resumed at. Lightning skips its epoch-start hook
    on a resume, in the middle of an epoch or at its end: the bar had no total ("400/?"), and
    mid-epoch a rate as if the batches of the earlier session had taken no time."""

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        super().on_train_start(trainer, module)
        self.epoch_started = False

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        super().on_train_epoch_start(trainer, module)
        self.epoch_started = True

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: object,
                             batch_idx: int) -> None:
        if not self.epoch_started:  # resumed, batch_idx batches into the epoch
            bar = self.train_progress_bar
            # as Lightning counts at an epoch's start: the epoch's batches, or fewer if max_steps ends it
            bar.reset(total=convert_inf(min(trainer.num_training_batches, batch_idx + self.total_train_batches)))
            bar.initial = bar.n = bar.last_print_n = batch_idx
            bar.set_description(f"Epoch {trainer.current_epoch}")
            self.epoch_started = True
