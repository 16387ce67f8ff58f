"""Export a checkpoint for deployment: ONNX or TorchScript, dynamic batch and width.

    python -m ocr.reading.export [--checkpoint X.ckpt] --format onnx|onnx-int8|onnx-int8-7bit|torchscript --out F

Without ``--checkpoint`` the shipped default model is exported.

The exported graph maps right-padded images ``(B, C, 32, W)`` (normalised as
ocr/data/transforms.py does) and their unpadded ``widths`` ``(B,)`` to log-probabilities
``(T, B, classes)`` with ``T = W // 4 + 1``; as in PyTorch, the padding never reaches the
valid steps (ONNX LSTM ``sequence_lens``). The charset and input settings are stored in the
ONNX file's metadata (``ocr.charset``, ``ocr.input``; also ``ocr.precision`` and the
checkpoint's SHA-256, ``ocr.source_sha256``) and in a ``.json`` beside a TorchScript file.
``onnx-int8`` is the ONNX model in int8: convolutions and linear layer quantised statically
(calibrated on rendered words), the LSTM dynamically (ocr/reading/quantization.py); ``onnx-int8-7bit``
the same with 7-bit weights, for x86 CPUs without VNNI (whose int8 kernels can saturate on
8-bit weights). Exported as ``X.int8.onnx`` and ``X.int8-7bit.onnx`` beside ``X.ckpt``, they
are what ``--backend auto`` runs on such CPUs (ocr/reading/backends.py).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ocr.assets import DEFAULT_MODEL
from ocr.reading.loaded import file_sha256
from ocr.reading.exits import or_exit

if TYPE_CHECKING:  # PyTorch is imported when a model is exported, not for --help
    import torch

FORMATS = ("onnx", "onnx-int8", "onnx-int8-7bit", "torchscript")


def export(checkpoint: str | Path, fmt: str, out: str | Path) -> Path:
    """Write the model of ``checkpoint`` to ``out`` in ``fmt``; returns ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    import torch

    from ocr.reading.checkpoint import load_model

    loaded = load_model(checkpoint)
    model = loaded.model.eval()
    spec = loaded.hparams["model"]["input"]
    # two different widths, so that tracing records the path that masks padding
    example = (torch.zeros(2, spec["channels"], spec["height"], 128), torch.tensor([128, 96]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"ocr.charset": json.dumps(loaded.charset.to_config()), "ocr.input": json.dumps(spec),
            "ocr.precision": "int8" if fmt.startswith("onnx-int8") else "fp32",
            "ocr.source_sha256": file_sha256(checkpoint)}
    if fmt == "torchscript":
        with torch.no_grad(), known_warnings_silenced():
            traced = torch.jit.trace(model, example, check_trace=False)
        torch.jit.save(traced, str(out))
        out.with_suffix(out.suffix + ".json").write_text(json.dumps(meta, indent=1))
        return out
    if fmt == "onnx":
        _export_onnx(model, example, out)
    else:
        from ocr.reading.quantization import calibration_batches, quantize_onnx

        with tempfile.TemporaryDirectory() as folder:
            fp32 = _export_onnx(model, example, Path(folder) / "fp32.onnx")
            quantize_onnx(fp32, out, calibration_batches(loaded), seven_bit=fmt == "onnx-int8-7bit")
    _finish_onnx(out, meta)
    return out


# What the TorchScript-based ONNX exporter says about this model, each checked: it is the
# exporter that maps packed sequences to ONNX LSTM's sequence_lens (the torch.export-based one
# cannot trace their data-dependent lengths); the input-height check and the all-full-length
# shortcut are traced as the example takes them, which is right for any batch, width and
# lengths (tests/test_export.py); the LSTM's batch-size warning is about initial states,
# which this model never passes; PackPadded/PadPacked have no shape inference, and the
# graph's shapes are set by dynamic_axes.
KNOWN_EXPORT_WARNINGS = ("legacy TorchScript-based ONNX export", "Converting a tensor to a Python boolean",
                         "with a batch_size other than 1, with a variable length with LSTM")
KNOWN_NATIVE_WARNINGS = ("shape inference of prim::PackPadded", "shape inference of prim::PadPacked")


@contextmanager
def known_warnings_silenced() -> Iterator[None]:
    """Inside the block, the exporter's known warnings (Python's and those its C++ code
    writes straight to stderr) are dropped; any other warning still shows."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as native, warnings.catch_warnings():
        for text in KNOWN_EXPORT_WARNINGS:
            warnings.filterwarnings("ignore", message=f".*{re.escape(text)}")
        os.dup2(native.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            native.seek(0)
            for line in native.read().decode(errors="replace").splitlines(keepends=True):
                if not any(text in line for text in KNOWN_NATIVE_WARNINGS):
                    sys.stderr.write(line)


def _export_onnx(model: torch.nn.Module, example: tuple, out: Path) -> Path:
    import torch

    with known_warnings_silenced():
        torch.onnx.export(
            model, example, str(out), input_names=["images", "widths"], output_names=["log_probs"],
            dynamic_axes={"images": {0: "batch", 3: "width"}, "widths": {0: "batch"},
                          "log_probs": {0: "time", 1: "batch"}},
            opset_version=17, dynamo=False,
        )
    return out


def _finish_onnx(path: Path, meta: dict[str, str]) -> None:
    """Give the exported file a branch without padding masks for unpadded batches
    (:mod:`ocr.reading.unpadded`), an int8 pooled stem computed as phases
    (:mod:`ocr.reading.phase_stem`) and its metadata."""
    import onnx

    from ocr.reading.phase_stem import pooled_stems_as_phases
    from ocr.reading.unpadded import add_unpadded_branch

    model = onnx.load(str(path))
    add_unpadded_branch(model)
    pooled_stems_as_phases(model)
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=str(DEFAULT_MODEL),
                        help="model checkpoint (.ckpt; default: the shipped model)")
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--out", required=True, help="file to write")
    args = parser.parse_args()
    print(f"wrote {or_exit(lambda: export(args.checkpoint, args.format, args.out))}")


if __name__ == "__main__":
    main()
