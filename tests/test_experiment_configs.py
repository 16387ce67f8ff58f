"""Every experiment in configs/experiment composes: its defaults chain, interpolations and
Trainer arguments are checked here, not first in a run hours long."""
import pytest
from omegaconf import OmegaConf

from ocr.assets import CONFIGS
from ocr.config import compose_config
from ocr.train.config_checks import check_config

EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml") if not p.stem.startswith("_"))


@pytest.fixture(scope="module")
def reference():
    """``configs/train.yaml`` as it is: the value types every experiment must keep."""
    return compose_config()


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_config_composes_resolves_and_passes_the_trainer_checks(name, reference):
    cfg = compose_config([f"experiment={name}"])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["trainer"]["max_steps"] > 0
    check_config(cfg, reference)
