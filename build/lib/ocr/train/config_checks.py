"""Checks of a composed training config before anything is built: a misspelt Trainer
argument or a value of the wrong type is one clear error naming the key."""
from __future__ import annotations

import difflib
import inspect

import lightning as L
from omegaconf import DictConfig, OmegaConf


class ConfigError(ValueError):
    """The configuration asks for something that cannot work."""


# a default of this type -> (the types a value may have, how the error names them)
KINDS = {bool: ((bool,), "true or false"), int: ((int,), "a whole number"), float: ((int, float), "a number")}


def check_config(cfg: DictConfig, reference: DictConfig | None = None) -> None:
    """Raise :class:`ConfigError` for the first key of ``cfg.trainer`` that ``lightning.Trainer``
    does not take, or the first value whose type differs from the Trainer's default or from
    the same key's value in ``reference`` (the config as composed without the key=value
    overrides, e.g. ``trainer.max_steps=abc`` where the default is 15000)."""
    arguments = inspect.signature(L.Trainer.__init__).parameters
    for key, value in cfg.trainer.items():
        if key not in arguments:
            near = difflib.get_close_matches(key, arguments, n=1)
            hint = f"; did you mean trainer.{near[0]}?" if near else ""
            raise ConfigError(f"trainer.{key}: not an argument of lightning.Trainer{hint}")
        _check_type(f"trainer.{key}", value, arguments[key].default)
    if reference is not None:
        for key, expected in _leaves(OmegaConf.to_container(reference, resolve=False)):
            value = OmegaConf.select(cfg, key, throw_on_missing=False)
            _check_type(key, value, expected)


def _check_type(key: str, value: object, default: object) -> None:
    if type(default) not in KINDS or value is None:
        return
    allowed, kind = KINDS[type(default)]
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise ConfigError(f"{key}: expected {kind}, got {value!r}")


def _leaves(node: object, prefix: str = ""):
    """``(dotted key, value)`` of every leaf of a plain config container."""
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _leaves(child, f"{prefix}{key}.")
    elif not isinstance(node, list):
        yield prefix[:-1], node
