"""Training throughput of the fine-tuning recipe (rendered words mixed with real photos),
before and after each change to the training step (issue #18, item 5).

    python benchmarks/train_speed.py [overrides ...]     # default: experiment=finetune_real

Needs ``../shared/data/train_real`` (the recipe's real folders); renders its own small LMDB.
Prints one table: samples/s of the model step alone (forward, backward and optimiser on
batches held in memory) and of the whole Lightning loop (data included), medians over
steps after a warm-up, for each variant, and each one's ratio to the recipe before the
changes (bf16, no width buckets for the mix). Run it on an idle machine.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import torch
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(ROOT / "runs" / "inductor-cache"))

from hydra import compose, initialize_config_dir  # noqa: E402

from benchmarks.data_speed import model_step, prerender, whole_loop  # noqa: E402
from ocr.text.charset import Charset  # noqa: E402

VARIANTS = {  # name: (overrides, torch.compile of the model step)
    "bf16, no width buckets (before)": (["data.bucket_batches=0"], False),
    "fp32, no width buckets": (["trainer.precision=32", "data.bucket_batches=0"], False),
    "bf16, width buckets": ([], False),
    "bf16, width buckets, 1 loader worker": (["data.num_workers=1"], False),
    "bf16, width buckets, batch 128": (["data.batch_size=128"], False),
    "bf16, width buckets, torch.compile": ([], True),
    "bf16, width buckets, TPS rectifier": (["model.rectifier=tps"], False),
}
BEFORE = "bf16, no width buckets (before)"


def config(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        # bf16-mixed unless a variant says otherwise, as the names say (the recipe's "auto" would
        # run fp32 on CPUs without native bf16)
        return compose(config_name="train", overrides=["experiment=finetune_real", "init_from=null", "data.val_dirs=[]",
                                                       "data.val_size=0", "trainer.precision=bf16-mixed", *sys.argv[1:],
                                                       *overrides])


def main() -> None:
    torch.set_num_threads(2)
    base = config("data.sources={synth: 1, lmdb: 0, folder: 0}", "data.lmdb_dirs=[]")  # the renderer settings, to make the LMDB
    charset = Charset.from_config(OmegaConf.to_container(base.charset))
    print("| variant | model step (samples/s) | whole loop (samples/s) | whole loop / before |\n|---|---|---|---|",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        lmdb = prerender(base, charset, Path(tmp) / "words", 3000)
        before = None
        for name, (overrides, compiled) in VARIANTS.items():
            cfg = config(f"data.lmdb_dirs=[{lmdb}]", *overrides)
            try:
                step = model_step(cfg, compile_model=compiled)
            except Exception as err:  # noqa: BLE001 - a variant that fails is a result, not the end
                print(f"| {name} | failed: {type(err).__name__}: {str(err).splitlines()[0][:120]} | | |", flush=True)
                continue
            if compiled:  # train.py does not compile: the model step alone
                print(f"| {name} | {step:.0f} | - | - |", flush=True)
                continue
            loop = whole_loop(cfg)
            before = loop if name == BEFORE else before
            print(f"| {name} | {step:.0f} | {loop:.0f} | {loop / before:.2f} |", flush=True)


if __name__ == "__main__":
    main()
