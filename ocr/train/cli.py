"""The train command: ``ocr train`` / ``python train.py`` [rnn=gru loss=ce trainer.max_steps=500 ...] (Hydra overrides)."""
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ocr.assets import CONFIGS
from ocr.train.config_checks import ConfigError, check_value_types, refuse_other_run

# what a start that failed leaves in a new run folder (ours, then Hydra's)
WRITTEN_AT_START = ("config.yaml", "train.log", ".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml")


def public_config_groups() -> str:
    """One line per config group, ``group: option, ...``, leaving out the files named ``_*``
    that other configs build on (``train.py --help``, via configs/train.yaml)."""
    lines = []
    for group in sorted(p for p in CONFIGS.iterdir() if p.is_dir()):
        options = sorted(f.stem for f in group.glob("*.yaml") if not f.stem.startswith("_"))
        if options:
            lines.append(f"  {group.name}: {', '.join(options)}")
    return "\n".join(lines)


OmegaConf.register_new_resolver("public_config_groups", public_config_groups, replace=True)


def reference_config() -> DictConfig:
    """This run's config composed from its group choices alone (``model=crnn_fast``, not
    ``trainer.max_steps=abc``): the value types the key=value overrides must keep."""
    groups = set(HydraConfig.get().runtime.choices)
    choices = [o for o in HydraConfig.get().overrides.task if o.partition("=")[0].lstrip("+~") in groups]
    return hydra.compose(config_name="train", overrides=choices)


def remove_failed_start(run_dir: Path) -> None:
    """Remove what a start that failed wrote into a run folder holding no checkpoint."""
    if (run_dir / "checkpoints").exists():
        return
    for name in WRITTEN_AT_START:
        (run_dir / name).unlink(missing_ok=True)
    for folder in (run_dir / ".hydra", run_dir, run_dir.parent):  # and the date folder of the default runs/DATE/TIME
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def refuse_other_run_before_hydra(argv: list[str]) -> None:
    """Exit when ``hydra.run.dir=X`` names another run's folder, before Hydra rewrites its
    ``.hydra`` files (train() checks it too, for the folders Hydra names itself)."""
    given = dict(arg.partition("=")[::2] for arg in argv if "=" in arg)
    if "hydra.run.dir" in given and not {"-m", "--multirun"} & set(argv):
        try:
            refuse_other_run(Path(given["hydra.run.dir"]), given.get("ckpt_path") or None)
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(1)


@hydra.main(config_path=str(CONFIGS), config_name="train", version_base="1.3")
def run(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    # Ctrl-C / kill -INT saves last.ckpt, even in a run a shell started in the background,
    # where SIGINT arrives ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        check_value_types(cfg, reference_config())  # before PyTorch and Lightning load: a typo is answered at once
        from ocr.train.wiring import train

        train(cfg, run_dir)  # checks the Trainer's arguments
    except (ValueError, OSError, RuntimeError) as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # Hydra marks this job failed, runs the rest of the sweep, then exits non-zero
        remove_failed_start(run_dir)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    print(f"run folder: {run_dir}")


def main() -> None:
    """Train with the Hydra overrides in ``sys.argv``."""
    refuse_other_run_before_hydra(sys.argv[1:])
    run()
