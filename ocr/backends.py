"""Run an exported ONNX model where a CRNN is expected (``model(images, widths)``)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from ocr.charset import Charset
from ocr.checkpoint import CheckpointError, LoadedModel
from ocr.data.transforms import Preprocess

BACKENDS = ("torch", "onnx")


class OnnxModel:
    """An onnxruntime session with the CRNN's call signature."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        feed = {"images": images.numpy(), "widths": widths.numpy()}
        return torch.from_numpy(self.session.run(None, feed)[0])


def load_onnx(path: str | Path) -> LoadedModel:
    """An exported model (``python -m ocr.export``) with the charset and input settings it carries."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        charset = Charset.from_config(json.loads(meta["ocr.charset"]))
        spec = json.loads(meta["ocr.input"])
    except Exception as err:  # onnx raises many kinds on a foreign file
        raise CheckpointError(f"{path}: not an ocr ONNX export ({type(err).__name__})") from None
    hparams = {"charset": charset.to_config(), "model": {"input": spec}}
    return LoadedModel(OnnxModel(path), charset, Preprocess(**spec), hparams)


def load_as_onnx(checkpoint: str | Path, int8: bool = False) -> LoadedModel:
    """Export a PyTorch checkpoint to a temporary ONNX file (int8-quantised with ``int8``:
    a few seconds of calibration, see :mod:`ocr.quantization`) and load that."""
    from ocr.export import export

    with tempfile.TemporaryDirectory() as folder:
        return load_onnx(export(checkpoint, "onnx-int8" if int8 else "onnx", Path(folder) / "model.onnx"))
