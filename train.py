"""Train a CRNN: python train.py [rnn=gru loss=ce trainer.max_steps=500 ...]  (Hydra overrides)."""
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ocr.train.wiring import train


@hydra.main(config_path="configs", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    # Ctrl-C / kill -INT saves last.ckpt, even in a run a shell started in the background,
    # where SIGINT arrives ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        train(cfg, run_dir)
    except (ValueError, OSError, RuntimeError) as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # Hydra marks this job failed, runs the rest of the sweep, then exits non-zero
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    print(f"run folder: {run_dir}")


if __name__ == "__main__":
    main()
