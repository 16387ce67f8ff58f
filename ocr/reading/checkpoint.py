"""Read checkpoints safely (``weights_only=True``) and slim them for shipping.

A checkpoint is a Lightning ``.ckpt`` (or its slim copy) whose ``hyper_parameters`` hold
the charset and the model config, so nothing else is needed to rebuild the model.
"""
from __future__ import annotations

import errno
import os
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from ocr.data.transforms import Preprocess
from ocr.messages import first_line
from ocr.models import build_model
from ocr.reading.loaded import CheckpointError, LoadedModel
from ocr.text.charset import Charset

MODEL_PREFIX = "model."
TMP_SUFFIX = ".tmp"  # atomic_save writes .NAME.PID.tmp first
TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80")  # torch.save's zip archive; its older format, a pickle


def safe_load(path: str | Path, map_location=None) -> dict:
    """``torch.load`` with ``weights_only=True``: refuses any pickled code; clear one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if (why := _not_a_torch_file(path)) is not None:
        raise CheckpointError(f"{path}: not a readable checkpoint ({why})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols say nothing to a user
            return torch.load(path, map_location=map_location or "cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # torch's advice to retry unsafely is dropped on purpose
        reason = _weights_only_reason(str(err))
        if "global" in reason.lower():  # a class or function the file would import and call
            raise CheckpointError(f"{path}: refused: it holds pickled code or objects other than weights "
                                  f"({reason}; checkpoints are loaded with weights_only=True)") from None
        raise CheckpointError(f"{path}: not a readable checkpoint (UnpicklingError: {reason})") from None
    except Exception as err:  # hostile or truncated bytes raise many kinds; all mean "unreadable"
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(err).__name__}: {first_line(err)})") from None


def _not_a_torch_file(path: Path) -> str | None:
    """Why ``path`` cannot be a file of ``torch.save``, told by its first bytes (an image or a
    text file given as a checkpoint), or None where it may be one."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError as err:
        return f"cannot be read: {err.strerror or type(err).__name__}"
    if not head:
        return "the file is empty"
    if head.startswith(TORCH_FILE_STARTS):
        return None
    return f"not a file torch.save writes, a zip archive starting with PK; it starts with {head!r}"


def _weights_only_reason(message: str) -> str:
    """The line of torch's weights-only error that says what was found (its advice left out)."""
    advice = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.split("WeightsUnpickler error:")[-1].strip() for line in message.splitlines()]
    found = [line for line in lines if line and not line.startswith(advice)]
    return found[0] if found else "unreadable"


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (the file it would replace is kept)."""


def atomic_save(obj: dict, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: never a half-written
    file. A full disk is a :class:`CheckpointWriteError` saying so, the old ``path`` intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch reports a short write as RuntimeError("... unexpected pos ...")
        if getattr(err, "errno", None) == errno.ENOSPC or "unexpected pos" in str(err):
            kept = f"; the previous {path.name} is kept" if path.exists() else ""
            raise CheckpointWriteError(f"{path}: no space left on the device{kept}") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files that :func:`atomic_save` left in ``folder`` when its process
    was killed mid-write (their process is gone); returns them."""
    stale = []
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}"):
        pid = tmp.name[: -len(TMP_SUFFIX)].rpartition(".")[2]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            stale.append(tmp)
    return stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    return True


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint's dict, checked to describe an ocr model (charset and config included)."""
    ckpt = safe_load(path)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "charset" not in ckpt.get("hyper_parameters", {}):
        raise CheckpointError(f"{path}: not an ocr checkpoint (no state_dict, or no charset in hyper_parameters)")
    return ckpt


def load_model(path: str | Path) -> LoadedModel:
    """Rebuild the model from a checkpoint, in eval mode, float32 on the CPU."""
    ckpt = read_checkpoint(path)
    hp = ckpt["hyper_parameters"]
    try:
        charset = Charset.from_config(hp["charset"])
        weights = {k[len(MODEL_PREFIX):]: v.float() for k, v in ckpt["state_dict"].items() if k.startswith(MODEL_PREFIX)}
        with torch.device("meta"):  # the config's sizes, checked against the weights before allocating anything
            wanted = build_model(charset.num_classes, hp["model"], hp["rnn"]).state_dict()
        for key, tensor in wanted.items():
            if key in weights and weights[key].shape != tensor.shape:
                raise CheckpointError(f"{path}: weights do not fit the checkpoint's own model config (model.{key}: "
                                      f"the config asks for {tuple(tensor.shape)}, {tensor.numel():,} values; "
                                      f"the weights are {tuple(weights[key].shape)})")
        model = build_model(charset.num_classes, hp["model"], hp["rnn"])
        model.load_state_dict(weights)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: weights do not fit the checkpoint's own model config ({first_line(err)})") from None
    return LoadedModel(model.eval(), charset, Preprocess(**hp["model"]["input"]), hp)


def slim_checkpoint(src: str | Path | Sequence[str | Path], dst: str | Path, half: bool = True) -> Path:
    """Copy only what inference needs (config + weights, fp16 if ``half``) to ``dst``.

    Several checkpoints of one model (fine-tunes from one start) have their weights averaged
    (a model soup); the config is the first one's."""
    paths = [src] if isinstance(src, (str, Path)) else list(src)
    ckpts = [read_checkpoint(path) for path in paths]
    for path, ckpt in zip(paths[1:], ckpts[1:]):
        if difference := _model_difference(ckpt, ckpts[0]):
            raise CheckpointError(f"{path}: not the model of {paths[0]} ({difference}); "
                                  "only checkpoints of one model can be averaged")
    dtype = torch.float16 if half else torch.float32
    state = {k: _mean([c["state_dict"][k] for c in ckpts]).to(dtype) if v.is_floating_point() else v
             for k, v in ckpts[0]["state_dict"].items()}
    steps = ckpts[0].get("global_step") if len(ckpts) == 1 else None  # a soup has no one step count
    atomic_save({"state_dict": state, "hyper_parameters": ckpts[0]["hyper_parameters"], "global_step": steps}, dst)
    return Path(dst)


def _mean(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([t.float() for t in tensors]).mean(0)


def _model_difference(ckpt: dict, first: dict) -> str | None:
    """How ``ckpt`` differs from ``first`` in charset or weight names and shapes; None if not."""
    charset, first_charset = (Charset.from_config(c["hyper_parameters"]["charset"]) for c in (ckpt, first))
    if charset != first_charset:
        return "another charset"
    state, first_state = ckpt["state_dict"], first["state_dict"]
    keys = [*first_state, *(k for k in state if k not in first_state)]
    key = next((k for k in keys if shape_of(state, k) != shape_of(first_state, k)), None)
    return None if key is None else f"{key}: {shape_of(state, key)} against {shape_of(first_state, key)}"


def shape_of(state: dict, key: str) -> tuple | str:
    """The shape of ``state[key]``, or "absent"."""
    return tuple(state[key].shape) if key in state else "absent"
