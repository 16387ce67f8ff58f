"""The training configuration (``configs/``, Hydra) composed outside a Hydra app."""
from __future__ import annotations

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ocr.assets import CONFIGS


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """``configs/train.yaml`` with ``overrides`` applied (e.g. ``experiment=default_model``)."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))
