"""Data pipeline throughput against the model step, on this machine.

    python benchmarks/data_speed.py [overrides ...]      # default: experiment=default_model

Prints one table:
- images/s of each renderer on one core (render only, and render + resize to the model's
  input, which is what a training sample costs), and of reading a pre-rendered LMDB;
- for each pipeline (on-the-fly rendering with 0/1/2 workers; pre-rendered LMDB read with
  width buckets, 0/1 workers): samples/s of the model's training step alone on that
  pipeline's batches held in memory, and of the whole Lightning training loop, data
  included, with their ratio (the data issue asks for >= 0.9).
Medians over steps after a warm-up. Run it on an idle machine: two busy processes on two
cores slow each other several times over.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ocr.data.lmdb_store import LmdbWords, write_lmdb  # noqa: E402
from ocr.data.prerender import at_height  # noqa: E402
from ocr.text.charset import Charset  # noqa: E402
from ocr.train.wiring import build_datamodule, build_system, resolved_precision  # noqa: E402

WARMUP, STEPS = 5, 25


def config(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(config_name="train", overrides=["experiment=default_model", "data.val_dirs=[]",
                                                       "data.val_size=0", *sys.argv[1:], *overrides])


def per_second(fn, count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        fn(i)
    return count / (time.perf_counter() - start)


def renderer_rows(charset: Charset, count: int = 500) -> dict[str, float]:
    torch.set_num_threads(1)
    rows = {}
    for name in ("basic", "scene"):
        dataset = build_datamodule(config(f"renderer={name}"), charset).synthetic(count, seed=1)
        per_second(dataset.render, count)  # warm-up: fonts opened and cached
        rows[f"renderer {name}, render only, 1 core (img/s)"] = per_second(dataset.render, count)
        rows[f"renderer {name}, render + resize, 1 core (img/s)"] = per_second(dataset.__getitem__, count)
    return rows


def prerender(cfg: DictConfig, charset: Charset, folder: Path, count: int) -> Path:
    """The same samples ``python -m ocr.data.prerender --out`` writes (PNG at the model's height)."""
    dataset = build_datamodule(cfg, charset).synthetic(count, seed=2)
    write_lmdb(folder, at_height(dataset, count, cfg.model.input.height), count)
    return folder


def model_step(cfg: DictConfig, compile_model: bool = False) -> float:
    """Samples/s of forward + backward + optimiser step alone, on the pipeline's own batches
    (its padding included) loaded into memory first; ``compile_model``: the model under
    ``torch.compile`` (dynamic shapes: widths vary), its compilation in the warm-up."""
    system = build_system(cfg)
    if compile_model:
        system.model = torch.compile(system.model, dynamic=True)
    datamodule = build_datamodule(cfg, system.charset)
    datamodule.setup("fit")
    loader = iter(datamodule.train_dataloader())
    batches = [next(loader) for _ in range(WARMUP + STEPS)]  # the same batches the whole loop sees
    optimizer = torch.optim.AdamW(system.parameters(), 1e-4)
    bf16 = str(resolved_precision(cfg.trainer.precision)).startswith("bf16")
    times = []
    for step in range(WARMUP + STEPS):
        batch = batches[step]
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = system.loss_fn(system.model(batch.images, batch.widths), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return cfg.data.batch_size / statistics.median(times[WARMUP:])


class StepTimer(L.Callback):
    """Wall time between consecutive training batch starts: data wait + step."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.starts.append(time.perf_counter())


def whole_loop(cfg: DictConfig) -> float:
    """Samples/s of ``trainer.fit`` as train.py runs it, data loading included."""
    system = build_system(cfg)
    datamodule = build_datamodule(cfg, system.charset)
    timer = StepTimer()
    trainer = L.Trainer(max_steps=WARMUP + STEPS + 1, precision=resolved_precision(cfg.trainer.precision), logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[timer], reload_dataloaders_every_n_epochs=1)
    trainer.fit(system, datamodule=datamodule)
    gaps = [b - a for a, b in zip(timer.starts[WARMUP:], timer.starts[WARMUP + 1:])]
    return cfg.data.batch_size / statistics.median(gaps)


def main() -> None:
    cfg = config()
    charset = Charset.from_config(OmegaConf.to_container(cfg.charset))
    print("| measurement | value |\n|---|---|", flush=True)

    def row(name: str, value: float) -> None:
        print(f"| {name} | {value:.0f} |", flush=True)

    for name, value in renderer_rows(charset).items():
        row(name, value)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        lmdb = prerender(cfg, charset, Path(tmp) / "words", (WARMUP + STEPS + 2) * cfg.data.batch_size)
        on_the_fly = ["data=synth", "data.synth.epoch_size=100000"]
        loops = {
            "on-the-fly scene, 0 workers": config(*on_the_fly, "data.num_workers=0"),
            "on-the-fly scene, 1 worker": config(*on_the_fly, "data.num_workers=1"),
            "on-the-fly scene, 2 workers": config(*on_the_fly, "data.num_workers=2"),
            "pre-rendered LMDB, width buckets, 0 workers": config(f"data.lmdb_dirs=[{lmdb}]", "data.num_workers=0"),
            "pre-rendered LMDB, width buckets, 1 worker": config(f"data.lmdb_dirs=[{lmdb}]", "data.num_workers=1"),
        }
        for name, loop_cfg in loops.items():
            model, speed = model_step(loop_cfg), whole_loop(loop_cfg)
            row(f"{name}: model step alone (samples/s)", model)
            row(f"{name}: whole loop (samples/s; ratio {speed / model:.2f})", speed)
        torch.set_num_threads(1)
        reader = LmdbWords(lmdb, charset, build_datamodule(cfg, charset).preprocess)
        row("pre-rendered LMDB read + resize, 1 core (img/s)", per_second(reader.__getitem__, len(reader)))


if __name__ == "__main__":
    main()
