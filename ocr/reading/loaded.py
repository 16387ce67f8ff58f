"""What reading needs from a model file, whichever runs it (PyTorch or onnxruntime), and the
error a file that cannot give it raises. Imports no PyTorch: a reading with the int8 export
starts without it."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocr.data.transforms import Preprocess
from ocr.text.charset import Charset


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not describe an ocr model."""


@dataclass
class LoadedModel:
    """Everything inference needs from a checkpoint or an export: the network (a PyTorch
    ``CRNN`` or an :class:`~ocr.reading.backends.OnnxModel`), its charset and preprocessing,
    and the hyper-parameters it was saved with."""

    model: Any
    charset: Charset
    preprocess: Preprocess
    hparams: dict


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (ties an exported model to the checkpoint it came from)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
