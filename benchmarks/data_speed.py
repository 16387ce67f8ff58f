"""Data pipeline throughput against the model step, on this machine.

    python benchmarks/data_speed.py [renderer=scene ...]

Prints one table: images/s of each renderer on one core (32 px high output, as training
sees it), of reading a pre-rendered LMDB, and samples/s of the model's training step alone
and of the whole training loop (data included) for the configured model, with the ratio
the data issue asks for (whole loop / model step, target >= 0.9).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ocr.charset import Charset  # noqa: E402
from ocr.data.lmdb_store import LmdbWords, write_lmdb  # noqa: E402
from ocr.training import build_datamodule, build_system  # noqa: E402


def per_second(fn, count: int) -> float:
    start = time.perf_counter()
    fn(count)
    return count / (time.perf_counter() - start)


def renderer_speed(cfg, charset, renderer: str, count: int = 400) -> float:
    cfg = OmegaConf.merge(cfg, {"data": {"synth": {"render": {"name": renderer}}}})
    dataset = build_datamodule(cfg, charset).synthetic(count, seed=1)
    torch.set_num_threads(1)
    return per_second(lambda n: [dataset[i] for i in range(n)], count)


def model_step_speed(cfg, steps: int = 12) -> float:
    """Samples/s of forward + backward + optimiser step on rendered batches held in memory."""
    system = build_system(cfg)
    datamodule = build_datamodule(cfg, system.charset)
    datamodule.setup("fit")
    batches = [datamodule.collate([datamodule._parts["synth"][i * 64 + k] for k in range(64)]) for i in range(4)]
    optimizer = torch.optim.AdamW(system.parameters(), 1e-4)
    bf16 = str(cfg.trainer.precision).startswith("bf16")
    times = []
    for step in range(steps):
        batch = batches[step % len(batches)]
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = system.loss_fn(system.model(batch.images, batch.widths), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return 64 / statistics.median(times[2:])


def main() -> None:
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=default_model", "data.val_dirs=[]",
                                                      *sys.argv[1:]])
    charset = Charset.from_config(OmegaConf.to_container(cfg.charset))
    rows = {f"renderer {name}, 1 core (img/s)": renderer_speed(cfg, charset, name) for name in ("basic", "scene")}
    with tempfile.TemporaryDirectory() as folder:
        dataset = build_datamodule(cfg, charset).synthetic(400, seed=2)
        samples = ((img.resize((max(1, round(img.width * 32 / img.height)), 32)), label, None)
                   for img, label, _ in (dataset.render(i) for i in range(400)))
        write_lmdb(Path(folder) / "w", samples, 400)
        lmdb = LmdbWords(Path(folder) / "w", charset, build_datamodule(cfg, charset).preprocess)
        rows["pre-rendered LMDB read, 1 core (img/s)"] = per_second(lambda n: [lmdb[i] for i in range(n)], 400)
    torch.set_num_threads(2)
    rows["model step alone, 2 threads (samples/s)"] = model_step_speed(cfg)
    print("| measurement | value |\n|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.0f} |")
    print("\nWhole-loop samples/s: read the progress bar of a training run (it/s x batch size).")


if __name__ == "__main__":
    main()
