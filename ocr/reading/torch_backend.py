"""Reading with PyTorch: the CRNN as a :class:`~ocr.reading.backends.SplitModel` on numpy
batches, in fp32, bf16 autocast or int8 dynamic quantisation."""
from __future__ import annotations

import platform
import warnings

import numpy as np
import torch

from ocr.reading.backends import Run, SplitModel


def fastest_precision() -> str:
    """``bf16`` where the CPU computes it natively, else ``fp32`` (speeds and accuracy of each:
    ``benchmarks/speed.py``). oneDNN also runs bf16 on x86 CPUs without bf16 instructions, by
    converting: on an Intel Xeon with AVX-512 but neither AVX512_BF16 nor AMX, 1.7x slower
    training steps and 2.4x slower reading than fp32 (2026-12-07); so on x86 it takes those."""
    if not _onednn_runs_bf16():
        return "fp32"
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return "bf16"
    native = (getattr(torch.cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported",
                                                                     "_is_amx_tile_supported"))
    return "bf16" if any(native) else "fp32"


def _onednn_runs_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def quantized(model: torch.nn.Module) -> torch.nn.Module:
    """A copy with int8 dynamic quantisation of the recurrent and linear layers (the
    convolutions stay fp32)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager-mode quantisation announces its move to torchao
        return quantize_dynamic(model, {torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN, torch.nn.Linear},
                                dtype=torch.qint8)


def prepared(model: torch.nn.Module, precision: str) -> tuple[torch.nn.Module, str]:
    """The CRNN ready to read in ``precision`` (``fp32``, ``bf16``, ``int8`` or ``auto``): batch
    norm folded into the convolutions, quantised for ``int8``; and the precision it runs in."""
    model.backbone.fuse_batch_norm()
    if precision == "auto":
        precision = fastest_precision()
    return (quantized(model) if precision == "int8" else model), precision


class TorchModel(SplitModel):
    """A PyTorch CRNN as a :class:`SplitModel`: one batch on the calling thread (with the
    caller's threads: all of them for one image), several side by side on single-threaded
    workers; each in inference mode and, with ``bf16``, under bf16 autocast (both are set per
    thread)."""

    def __init__(self, model: torch.nn.Module, bf16: bool = False, threads: int | None = None) -> None:
        super().__init__(threads or torch.get_num_threads())
        self.model, self.bf16 = model, bf16

    def _run(self, images: np.ndarray, widths: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.model(torch.from_numpy(images), torch.from_numpy(widths)).float().numpy()

    def _inline(self) -> Run:
        return self._run

    def _worker_run(self, index: int) -> Run:
        torch.set_num_threads(1)
        return self._run
