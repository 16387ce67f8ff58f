"""Wire a Hydra config into a DataModule, a LightningModule and a Trainer, and fit."""
from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, EMAWeightAveraging, LearningRateMonitor, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from ocr.assets import checkpoint_path
from ocr.data.transforms import Preprocess
from ocr.reading.checkpoint import remove_stale_temporaries
from ocr.reading.torch_backend import fastest_precision
from ocr.text.charset import Charset
from ocr.train.checkpoint_io import AtomicCheckpointIO, SaveOnInterrupt, check_resumable, init_from_checkpoint
from ocr.train.config_checks import ConfigError, check_config, refuse_other_run
from ocr.train.datamodule import OCRDataModule
from ocr.train.diagnostics import GradientFlowMonitor
from ocr.train.distillation import Teacher
from ocr.train.run_log import ResumingProgressBar, RunLogger, TrainingClock
from ocr.train.system import RecognitionSystem

log = logging.getLogger(__name__)


def build_datamodule(cfg: DictConfig, charset: Charset) -> OCRDataModule:
    data = OmegaConf.to_container(cfg.data, resolve=True)
    preprocess = Preprocess(**cfg.model.input)
    return OCRDataModule(charset, preprocess, **data)


def build_system(cfg: DictConfig) -> RecognitionSystem:
    return RecognitionSystem(
        charset=OmegaConf.to_container(cfg.charset, resolve=True),
        model=OmegaConf.to_container(cfg.model, resolve=True),
        rnn=OmegaConf.to_container(cfg.rnn, resolve=True),
        loss=cfg.loss.name,
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        max_nonfinite_steps=cfg.max_nonfinite_steps,
    )


def _not_an_advert(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("💡 Tip")


def quiet_lightning() -> None:
    """Silence two messages every run printed that ask nothing of the user: Lightning's
    advertisement for its cloud logger, and torch's deprecation of a check inside Lightning."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_not_an_advert)  # once, however often called
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


def resolved_precision(precision: str | int | None) -> str | int | None:
    """``trainer.precision`` as Lightning takes it: ``auto`` becomes ``bf16-mixed`` where the
    CPU computes bf16 natively (oneDNN on AVX-512), else ``32-true`` (emulated bf16 made the
    quick try's steps 9 times slower on an AVX2 CPU: docs/speed_log.md, session 31); other
    values stay as they are."""
    if precision != "auto":
        return precision
    return "bf16-mixed" if fastest_precision() == "bf16" else "32-true"


def train(cfg: DictConfig, run_dir: Path) -> L.Trainer:
    """Train as configured, writing checkpoints, the resolved config and metrics.csv under ``run_dir``.

    The Trainer's arguments are checked first (:func:`~ocr.train.config_checks.check_config`;
    train.py checks the override's value types before it comes here). A folder that holds a
    run is only written to by resuming it (``ckpt_path`` in its checkpoints folder);
    metrics.csv then grows with the new session's rows.
    """
    check_config(cfg)
    quiet_lightning()
    refuse_other_run(run_dir, cfg.ckpt_path)
    ckpt_dir = run_dir / "checkpoints"
    for stale in remove_stale_temporaries(ckpt_dir) if ckpt_dir.is_dir() else []:
        log.info("removed %s, a partial checkpoint left by a killed run", stale)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if (precision := resolved_precision(cfg.trainer.precision)) != cfg.trainer.precision:
        log.info("trainer.precision=%s: %s on this CPU", cfg.trainer.precision, precision)
        cfg.trainer.precision = precision  # the run's config.yaml records what it ran in
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    system = build_system(cfg)
    datamodule = build_datamodule(cfg, system.charset)
    if system.loss_fn.requires_alignment and not datamodule.provides_alignment:
        raise ConfigError(
            f"loss={cfg.loss.name} needs character extents, which data.sources={dict(datamodule.sources)} "
            "do not all provide (folders never do); use loss=ctc or synthetic data"
        )
    if cfg.ckpt_path is not None:
        check_resumable(cfg.ckpt_path, dict(system.hparams))
    elif cfg.init_from is not None:  # a resumed run takes its weights from ckpt_path instead
        log.info(init_from_checkpoint(system.model, checkpoint_path(cfg.init_from), system.charset))
    if cfg.distill.teacher is not None:
        names = cfg.distill.teacher if OmegaConf.is_list(cfg.distill.teacher) else [cfg.distill.teacher]
        system.teacher = Teacher([checkpoint_path(name) for name in names], system.charset,
                                 cfg.distill.weight, cfg.distill.temperature)
        log.info("distilling from %s (weight %g, temperature %g)", " and ".join(map(str, system.teacher.paths)),
                 cfg.distill.weight, cfg.distill.temperature)
    callbacks = [
        # a resumed run overwrites its best.ckpt (atomically) instead of adding best-v1.ckpt,
        ModelCheckpoint(ckpt_dir, filename="best", monitor=cfg.checkpoint.monitor, mode="max", save_top_k=1,
                        auto_insert_metric_name=False, enable_version_counter=False),
        # and its last.ckpt, instead of adding last-v1.ckpt beside the one it resumed from
        ModelCheckpoint(ckpt_dir, save_top_k=0, save_last=True, enable_version_counter=False,
                        every_n_train_steps=cfg.checkpoint.every_n_train_steps),
        LearningRateMonitor(logging_interval="step"),
        TrainingClock(),
        SaveOnInterrupt(ckpt_dir / "last.ckpt"),
        ValidateAtLastStep(),
    ]
    if cfg.trainer.enable_progress_bar:
        # a bar redrawn every step floods a log file (nohup) with carriage returns
        refresh = 1 if sys.stderr.isatty() else cfg.progress_bar_steps_in_files
        callbacks.append(ResumingProgressBar(refresh_rate=refresh))
    if cfg.ema_decay is not None:
        # validated and saved (state_dict) with the averaged weights; the trained ones travel
        # beside them in the checkpoint, so a resumed run goes on from both
        callbacks.append(EMAWeightAveraging(decay=cfg.ema_decay))
    if cfg.gradient_monitor.every_n_steps:
        callbacks.append(GradientFlowMonitor(cfg.gradient_monitor.every_n_steps, run_dir / "gradients"))
    trainer = L.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        default_root_dir=run_dir,
        logger=RunLogger(run_dir, name="", version=""),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
    )
    trainer.fit(system, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    trainer.save_checkpoint(ckpt_dir / "last.ckpt", weights_only=False)  # full state: resumable
    return trainer


class ValidateAtLastStep(Callback):
    """Stop at ``max_steps`` by asking the loop to stop, which makes Lightning validate that
    last step too (once, if it is a validation step anyway): every run ends with a scored
    ``best.ckpt``, however its length and ``trainer.val_check_interval`` fall."""

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True
