"""Run an exported ONNX model where a CRNN is expected (``model(images, widths)``)."""
from __future__ import annotations

import importlib.util
import json
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ocr.data.transforms import Preprocess
from ocr.reading.checkpoint import CheckpointError, LoadedModel, file_sha256
from ocr.text.charset import Charset

BACKENDS = ("torch", "onnx", "auto")


class OnnxModel:
    """onnxruntime with the CRNN's call signature: one single-threaded session per thread
    (``torch.get_num_threads()``), a batch split between them and run side by side (a run
    releases the GIL): the LSTM's step-by-step work divides poorly between the threads of one
    run (timings in the README, Speed). Sessions beyond the first start with the first batch
    that needs them, so reading one image starts as fast as with one session."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime

        self.model_bytes = Path(path).read_bytes()  # the file may be temporary (load_as_onnx)
        self.threads = threads or torch.get_num_threads()
        self.options = onnxruntime.SessionOptions()
        self.options.intra_op_num_threads = 1
        self.session = self._new_session()
        self.sessions = [self.session]
        self.pool: ThreadPoolExecutor | None = None

    def _new_session(self):
        import onnxruntime

        return onnxruntime.InferenceSession(self.model_bytes, self.options, providers=["CPUExecutionProvider"])

    def __call__(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        parts = min(self.threads, images.shape[0])
        feeds = [{"images": i.numpy(), "widths": w.numpy()}
                 for i, w in zip(images.tensor_split(parts), widths.tensor_split(parts))]
        if parts == 1:
            return torch.from_numpy(self.session.run(None, feeds[0])[0])
        if self.pool is None:
            self.sessions += [self._new_session() for _ in range(self.threads - 1)]
            self.pool = ThreadPoolExecutor(self.threads)
        outputs = self.pool.map(lambda session, feed: session.run(None, feed)[0], self.sessions, feeds)
        return torch.from_numpy(np.concatenate(list(outputs), axis=1))


def load_onnx(path: str | Path) -> LoadedModel:
    """An exported model (``python -m ocr.reading.export``) with the charset and input settings it carries."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        model = OnnxModel(path)
        meta = model.session.get_modelmeta().custom_metadata_map
        charset = Charset.from_config(json.loads(meta["ocr.charset"]))
        spec = json.loads(meta["ocr.input"])
    except Exception as err:  # onnxruntime raises many kinds on a foreign file
        raise CheckpointError(f"{path}: not an ocr ONNX export ({type(err).__name__})") from None
    hparams = {"charset": charset.to_config(), "model": {"input": spec},
               "precision": meta.get("ocr.precision", "fp32"), "source_sha256": meta.get("ocr.source_sha256")}
    return LoadedModel(model, charset, Preprocess(**spec), hparams)


def load_as_onnx(checkpoint: str | Path, int8: bool = False) -> LoadedModel:
    """Export a PyTorch checkpoint to a temporary ONNX file (int8-quantised with ``int8``:
    a few seconds of calibration, see :mod:`ocr.reading.quantization`) and load that."""
    from ocr.reading.export import export

    with tempfile.TemporaryDirectory() as folder:
        return load_onnx(export(checkpoint, "onnx-int8" if int8 else "onnx", Path(folder) / "model.onnx"))


def has_int8_dot_product() -> bool:
    """True on x86 CPUs with VNNI, the int8 dot-product instructions onnxruntime's int8 kernels
    are fast and exact with (without them, full-range 8-bit weights can saturate)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return bool(flags & {"avx512_vnni", "avx_vnni"})


def fast_int8(onnx_path: Path, checkpoint: Path) -> LoadedModel | None:
    """The int8 export ``onnx_path`` of ``checkpoint``, where it is the fastest correct way to run
    that model here: onnxruntime installed, a CPU with VNNI, and the file exported from exactly
    this checkpoint (SHA-256). Otherwise None (a stale export is named in a warning)."""
    if not onnx_path.is_file() or importlib.util.find_spec("onnxruntime") is None or not has_int8_dot_product():
        return None
    loaded = load_onnx(onnx_path)
    if loaded.hparams["source_sha256"] != file_sha256(checkpoint):
        warnings.warn(f"{onnx_path}: not exported from {checkpoint} (re-export it with python -m ocr.reading.export); "
                      "using PyTorch", stacklevel=2)
        return None
    return loaded
