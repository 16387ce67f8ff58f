"""Every experiment in configs/experiment composes: its defaults chain, interpolations and
Trainer arguments are checked here, not first in a run hours long."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ocr.train.config_checks import check_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml") if not p.stem.startswith("_"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_config_composes_resolves_and_passes_the_trainer_checks(name):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        cfg = compose(config_name="train", overrides=[f"experiment={name}"])
        reference = compose(config_name="train")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["trainer"]["max_steps"] > 0
    check_config(cfg, reference)
