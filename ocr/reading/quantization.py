"""Int8 quantisation of an exported ONNX model, for onnxruntime on CPUs.

The convolutions (and the final linear layer) get int8 weights, per output channel, and
uint8 activations, kept in uint8 through ReLU and max pooling, whose ranges are measured
on rendered synthetic words (never on evaluation photos); the LSTM gets int8 weights and
activations quantised on the fly (dynamic quantisation; other cells stay fp32). onnxruntime fuses the resulting
QuantizeLinear/DequantizeLinear pairs into integer kernels (VNNI on x86 CPUs that have it).
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ocr.data.batch import pad_images
from ocr.data.datasets import synthetic_words
from ocr.reading.loaded import LoadedModel

# Relu, MaxPool and Mul (the backbone's padding masks) too: quantised, they run on the uint8
# tensors between convolutions instead of a dequantise -> fp32 -> quantise round trip around
# each (without, the masks cost a model with mask_padding 1,500 against 1,598 words/s)
QUANTIZED_OPS = ["Conv", "Relu", "MaxPool", "Mul", "MatMul", "Gemm"]


def calibration_batches(loaded: LoadedModel, count: int = 256, batch_size: int = 32,
                        seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``count`` words rendered as the default training config renders them
    (``configs/data/synth.yaml``, ``renderer=scene``), preprocessed for ``loaded`` and padded
    into model inputs."""
    from omegaconf import OmegaConf

    from ocr.config import compose_config

    synth = OmegaConf.to_container(compose_config().data.synth, resolve=True)
    words = synthetic_words(synth, loaded.charset, loaded.preprocess, count, seed)
    tensors = sorted((words[i].image for i in range(count)), key=lambda t: t.shape[-1])
    batches = []
    for start in range(0, count, batch_size):
        images, widths = pad_images(tensors[start : start + batch_size])
        batches.append({"images": images.numpy(), "widths": widths.numpy()})
    return batches


@contextmanager
def _root_logger_quiet() -> Iterator[None]:
    """The root logger's warnings dropped inside the block."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_onnx(fp32_model: str | Path, out: str | Path, batches: list[dict[str, np.ndarray]],
                  seven_bit: bool = False) -> Path:
    """Write an int8 copy of ``fp32_model`` to ``out``: convolutions and linear layer static
    (activation ranges from ``batches``), the LSTM dynamic. A rectifier stays fp32: its
    sampling grid needs sub-pixel precision. ``seven_bit``: weights in 7 bits (onnxruntime's
    ``reduce_range``), which x86 CPUs without VNNI multiply without saturating."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    # onnxruntime's advice to pre-process (shape inference; the graph's shapes are set) and to
    # check for a model quantised already (it is not) comes through the root logger: not shown
    with tempfile.TemporaryDirectory() as folder, _root_logger_quiet():
        convolutions = Path(folder) / "static.onnx"
        quantize_static(
            str(fp32_model), str(convolutions), Reader(), quant_format=QuantFormat.QDQ,
            op_types_to_quantize=QUANTIZED_OPS, per_channel=True, activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8, nodes_to_exclude=_rectifier_nodes(fp32_model), reduce_range=seven_bit,
        )
        _shapes_read_quantized(convolutions)
        # the LSTM's weights too, its activations quantised on the fly (DynamicQuantizeLSTM)
        quantize_dynamic(str(convolutions), str(out), op_types_to_quantize=["LSTM"], weight_type=QuantType.QInt8,
                         reduce_range=seven_bit)
    return Path(out)


def _shapes_read_quantized(model: Path) -> None:
    """Point each Shape node that reads a DequantizeLinear's output at its quantised input
    (same shape), in place. Otherwise onnxruntime keeps the dequantisation, an fp32 copy of
    the tensor, only to give its shape: the padding masks' widths made 3% of a padded batch's
    kernel time that way (benchmarks/onnx_profile.py --padded)."""
    import onnx

    proto = onnx.load(str(model))
    graph = proto.graph
    producer = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        source = producer.get(node.input[0]) if node.op_type == "Shape" else None
        if source is not None and source.op_type == "DequantizeLinear":
            node.input[0] = source.input[0]
    onnx.save(proto, str(model))


def _rectifier_nodes(model: str | Path) -> list[str]:
    """Names of the nodes the exporter put under the CRNN's ``rectifier`` module."""
    import onnx

    return [node.name for node in onnx.load(str(model)).graph.node if node.name.startswith("/rectifier/")]
