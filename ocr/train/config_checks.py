"""Checks of a composed training config before anything is built: a misspelt Trainer
argument, a value of the wrong type or a run folder that holds another run is one clear
error naming the key. The value types are checked before Lightning (and PyTorch) load, so
``train.py`` answers such a typo in about a second instead of five."""
from __future__ import annotations

import difflib
import inspect
from pathlib import Path

from omegaconf import DictConfig, OmegaConf


class ConfigError(ValueError):
    """The configuration asks for something that cannot work."""


# a default of this type -> (the types a value may have, how the error names them)
KINDS = {bool: ((bool,), "true or false"), int: ((int,), "a whole number"), float: ((int, float), "a number")}


def check_value_types(cfg: DictConfig, reference: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value whose type differs from the same key's
    value in ``reference`` (the config as composed without the key=value overrides, e.g.
    ``trainer.max_steps=abc`` where the default is 15000). Needs no Lightning."""
    for key, expected in _leaves(OmegaConf.to_container(reference, resolve=False)):
        value = OmegaConf.select(cfg, key, throw_on_missing=False)
        _check_type(key, value, expected)


def check_config(cfg: DictConfig, reference: DictConfig | None = None) -> None:
    """:func:`check_value_types` against ``reference`` where given, then raise
    :class:`ConfigError` for the first key of ``cfg.trainer`` that ``lightning.Trainer`` does
    not take or whose value's type differs from the Trainer's default."""
    if reference is not None:
        check_value_types(cfg, reference)
    import lightning as L  # only now: the value types are checked without it

    arguments = inspect.signature(L.Trainer.__init__).parameters
    for key, value in cfg.trainer.items():
        if key not in arguments:
            near = difflib.get_close_matches(key, arguments, n=1)
            hint = f"; did you mean trainer.{near[0]}?" if near else ""
            raise ConfigError(f"trainer.{key}: not an argument of lightning.Trainer{hint}")
        _check_type(f"trainer.{key}", value, arguments[key].default)


def refuse_other_run(run_dir: Path, ckpt_path: str | None) -> None:
    """A :class:`ConfigError` when ``run_dir`` holds a run that ``ckpt_path`` does not resume:
    a new run never writes over another."""
    ckpt_dir = run_dir / "checkpoints"
    resumes_here = ckpt_path is not None and Path(ckpt_path).resolve().parent == ckpt_dir.resolve()
    if (ckpt_dir / "last.ckpt").is_file() and not resumes_here:
        raise ConfigError(f"{run_dir}: holds a run already; resume it with ckpt_path={ckpt_dir / 'last.ckpt'} "
                          "or choose another hydra.run.dir")


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
