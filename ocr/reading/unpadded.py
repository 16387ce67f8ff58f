"""An exported graph that skips its padding masks when a batch holds no padding.

A model trained with ``mask_padding`` zeroes the columns right of each word before every
layer that pads the width (ocr/models/backbone.py), and its ONNX graph must hold those
masks for any batch. A batch whose images all fill its width (one image; words of one
width) has nothing to mask, yet multiplying by all-ones masks costs about a tenth of the
run. :func:`add_unpadded_branch` wraps the graph in an ``If``: when the narrowest width is
the batch's width, a copy without the mask multiplications runs, else the whole graph. The
two give the same numbers bit for bit, in int8 too, where each mask's output keeps its
input's quantisation scale and zero point (checked; a graph where they differ keeps its
masks). PyTorch takes the same shortcut (``CRNNBackbone._masks``).
"""
from __future__ import annotations

import copy

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ocr.reading.onnx_graph import links

MASK_PASSES_THROUGH = ("Cast", "Unsqueeze", "Reshape", "QuantizeLinear", "DequantizeLinear")
SUFFIX = "/unpadded"  # appended to every value computed in the unpadded branch


def add_unpadded_branch(model: onnx.ModelProto) -> bool:
    """Wrap ``model``'s graph (inputs ``images``, ``widths``) in the ``If`` above, in place;
    False (and the model unchanged) when the graph has no padding masks."""
    graph = model.graph
    shortcut = _without_masks(graph)
    if not shortcut:
        return False
    outputs = [o.name for o in graph.output]
    unpadded = _needed([copy.deepcopy(node) for node in graph.node], outputs, shortcut)
    produced = {out for node in unpadded for out in node.output}
    for node in unpadded:  # the branches are scopes of one graph: their values need names of their own
        node.name += SUFFIX
        node.output[:] = [out + SUFFIX for out in node.output]
        node.input[:] = [name + SUFFIX if name in produced else name for name in node.input]
    then_outputs = copy.deepcopy(list(graph.output))
    for value in then_outputs:  # an output is never a mask
        value.name += SUFFIX
    no_padding = [
        helper.make_node("Shape", ["images"], ["batch_width"], start=3, end=4),
        helper.make_node("ReduceMin", ["widths"], ["narrowest"], keepdims=1),
        helper.make_node("Equal", ["narrowest", "batch_width"], ["unpadded_batch"]),
        helper.make_node("Squeeze", ["unpadded_batch"], ["no_padding"]),
    ]
    branch = helper.make_node(
        "If", ["no_padding"], outputs,
        then_branch=helper.make_graph(unpadded, "unpadded", [], then_outputs),
        else_branch=helper.make_graph(list(graph.node), "padded", [], copy.deepcopy(list(graph.output))))
    del graph.node[:]
    del graph.value_info[:]  # the shapes inside the branches; onnxruntime infers them
    graph.node.extend([*no_padding, branch])
    return True


def _without_masks(graph: onnx.GraphProto) -> dict[str, str]:
    """Which value stands for which once the masks are gone: each mask multiplication's
    output is its data input, and in a quantised graph a re-quantisation of that data to
    the scale and zero point it came with is the quantised data itself."""
    producer, consumers = links(graph)
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    shortcut: dict[str, str] = {}
    for node in graph.node:
        if node.op_type != "Mul":
            continue
        masked = [i for i, name in enumerate(node.input) if _is_mask(name, producer)]
        if len(masked) != 1:
            continue
        data = node.input[1 - masked[0]]
        shortcut[node.output[0]] = data
        source = producer.get(data)
        for after in consumers.get(node.output[0], []):
            if (after.op_type == "QuantizeLinear" and source is not None and source.op_type == "DequantizeLinear"
                    and _same(constants, after.input[1:], source.input[1:])):
                shortcut[after.output[0]] = source.input[0]
    return shortcut


def _is_mask(name: str, producer: dict[str, onnx.NodeProto]) -> bool:
    """Whether ``name`` is a padding mask: a comparison of column numbers with widths,
    reshaped and cast to numbers (as ``_masked_columns`` builds it), maybe quantised and
    dequantised on the way."""
    node = producer.get(name)
    while node is not None and node.op_type in MASK_PASSES_THROUGH:
        node = producer.get(node.input[0])
    return node is not None and node.op_type == "Less"


def _same(constants: dict[str, np.ndarray], a: list[str], b: list[str]) -> bool:
    """Whether the constant inputs ``a`` and ``b`` (scale, zero point) hold equal values."""
    return len(a) == len(b) and all(x in constants and y in constants and np.array_equal(constants[x], constants[y])
                                    for x, y in zip(a, b))


def _needed(nodes: list[onnx.NodeProto], outputs: list[str], shortcut: dict[str, str]) -> list[onnx.NodeProto]:
    """``nodes`` reading through ``shortcut``, without those no output needs, in order."""
    def resolve(name: str) -> str:
        while name in shortcut:
            name = shortcut[name]
        return name

    for node in nodes:
        node.input[:] = [resolve(name) for name in node.input]
    wanted = {resolve(name) for name in outputs}
    kept = []
    for node in reversed(nodes):
        if any(out in wanted for out in node.output):
            kept.append(node)
            wanted.update(node.input)
    return kept[::-1]
