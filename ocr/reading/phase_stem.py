"""The int8 export's pooled stem as four phases: the same numbers in two fifths of the time.

The pooled stem (ocr/models/backbone.py) is a 3x3 convolution of the one-channel image, ReLU
and 2x2 max pooling. onnxruntime runs an int8 convolution with one input channel far below
the CPU's speed: with its pooling it took 19% of the int8 network's time (5.0-5.3 of 27-28 ms,
benchmarks/onnx_profile.py, batch 32 of 112 columns, one thread, an Intel Xeon with VNNI)
for 1% of its multiply-adds; as phases 2.2 ms. Rewritten here, it runs on the image split
into its 2x2 pixel blocks (``SpaceToDepth``: four input channels at half the height and
width), where one 3x3 convolution with four times the output channels gives the
convolution's value at each of a block's four pixels (its phases); the 2x2 max pooling is
then the maximum over the four phases, taken by a max pooling over the phase axis.

The rewrite works on the quantised (QDQ) graph: the phase weights are the int8 weights
themselves, placed and padded with zeros, each output channel with its own channel's scale,
so every integer sum is the same as before and the outputs are equal bit for bit (checked by
tests/test_export.py). Transposes around the reshapes bring the phases into the last axes
only in ONNX's layout; onnxruntime computes in channels-last, where they cancel.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ocr.reading.onnx_graph import graphs, links


def pooled_stems_as_phases(model: onnx.ModelProto) -> int:
    """Rewrite, in place, every int8 pooled stem of ``model``'s graph and the graphs nested in
    it (the branches :func:`ocr.reading.unpadded.add_unpadded_branch` makes); returns how many."""
    constants = {t.name: t for t in model.graph.initializer}
    every_graph = list(graphs(model.graph))
    unread: set[str] = set()  # the replaced stems' constants
    rewritten = sum(_rewrite(graph, constants, model.graph, unread) for graph in every_graph)
    unread -= {name for graph in every_graph for node in graph.node for name in node.input}
    for name in unread:
        model.graph.initializer.remove(constants[name])
    return rewritten


def phase_weights(weights: np.ndarray) -> np.ndarray:
    """3x3 weights ``(C, 1, 3, 3)`` as the weights ``(4C, 4, 3, 3)`` of a 3x3 convolution over
    the image's 2x2 blocks (input channel ``2i + j``: the block's pixel at row ``i``, column
    ``j``) whose output channel ``(2a + b) C + o`` is channel ``o`` at the block's pixel ``(a, b)``."""
    channels = weights.shape[0]
    phases = np.zeros((4 * channels, 4, 3, 3), weights.dtype)
    for a in range(2):
        for b in range(2):
            out = slice((2 * a + b) * channels, (2 * a + b + 1) * channels)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    block_row, i = divmod(a + dy, 2)
                    block_col, j = divmod(b + dx, 2)
                    phases[out, 2 * i + j, block_row + 1, block_col + 1] = weights[:, 0, dy + 1, dx + 1]
    return phases


def _rewrite(graph: onnx.GraphProto, constants: dict[str, onnx.TensorProto], top: onnx.GraphProto,
             unread: set[str]) -> int:
    """Rewrite the pooled stems of ``graph``, the new constants added to ``top``'s; the names of
    the constants the removed nodes read are added to ``unread``."""
    producer, consumers = links(graph)
    count, replaced = 0, []
    for conv in [node for node in graph.node if node.op_type == "Conv"]:
        stem = _pooled_stem(conv, producer, consumers, constants)
        if stem is None:
            continue
        new_nodes, new_constants = _phase_nodes(stem, constants)
        for name, value in new_constants.items():
            if name not in constants:
                constants[name] = numpy_helper.from_array(value, name)
                top.initializer.append(constants[name])
        at = list(graph.node).index(conv)
        for old in (conv, *stem[4:]):
            graph.node.remove(old)
        for offset, node in enumerate(new_nodes):
            graph.node.insert(at + offset, node)
        replaced.extend(stem[1:4])
        count += 1
    needed = {name for inner in graphs(graph) for node in inner.node for name in node.input}
    needed |= {value.name for value in graph.output}
    for node in replaced:  # the dequantisations of the image, weights and bias, unless read elsewhere
        if node.output[0] not in needed:
            graph.node.remove(node)
            unread.update(name for name in node.input if name in constants)
    return count


def _pooled_stem(conv: onnx.NodeProto, producer: dict, consumers: dict,
                 constants: dict[str, onnx.TensorProto]) -> tuple[onnx.NodeProto, ...] | None:
    """``conv`` and the nodes after it when they are an int8 pooled stem on a one-channel
    input: DQ(image) -> Conv 3x3 -> Q -> DQ -> MaxPool 2x2 -> Q (the pooling keeps the
    convolution's scale); else None."""
    def only_consumer(node: onnx.NodeProto, op_type: str) -> onnx.NodeProto | None:
        after = consumers.get(node.output[0], [])
        return after[0] if len(after) == 1 and after[0].op_type == op_type else None

    image_dq, weights_dq, bias_dq = (producer.get(name) for name in [*conv.input, "", ""][:3])
    if (any(node is None or node.op_type != "DequantizeLinear" for node in (image_dq, weights_dq, bias_dq))
            or weights_dq.input[0] not in constants or bias_dq.input[0] not in constants):
        return None
    shape = tuple(constants[weights_dq.input[0]].dims)
    if shape[1:] != (1, 3, 3) or _attributes(conv) != {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                                        "strides": [1, 1], "dilations": [1, 1], "group": 1}:
        return None
    quantize = only_consumer(conv, "QuantizeLinear")
    dequantize = quantize and only_consumer(quantize, "DequantizeLinear")
    pool = dequantize and only_consumer(dequantize, "MaxPool")
    requantize = pool and only_consumer(pool, "QuantizeLinear")
    if (requantize is None or requantize.input[1:] != quantize.input[1:]
            or _attributes(pool) != {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0],
                                     "ceil_mode": 0, "dilations": [1, 1]}):
        return None
    return conv, image_dq, weights_dq, bias_dq, quantize, dequantize, pool, requantize


def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _phase_nodes(stem: tuple[onnx.NodeProto, ...], constants: dict[str, onnx.TensorProto],
                 ) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """The nodes and constants that compute the ``stem``'s output (its last node's) from the
    quantised image."""
    conv, image_dq, weights_dq, bias_dq, quantize, *_, requantize = stem
    tag = conv.name + "/phases"

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(constants[name])

    channels = constants[weights_dq.input[0]].dims[0]
    # constants named after the weights they come from, so both branches of the graph share them
    c = f"{weights_dq.input[0]}/phases/"
    new = {
        c + "weights": phase_weights(array(weights_dq.input[0])),
        **{c + f"weights_{k}": np.tile(array(weights_dq.input[k]), 4) for k in (1, 2)},
        **{c + f"bias_{k}": np.tile(array(bias_dq.input[k]), 4) for k in (0, 1, 2)},
        c + "height": np.array([2], np.int64),  # axes of the (N, 1, H, W) image
        c + "width": np.array([3], np.int64),
        c + "two": np.array([2], np.int64),
        c + "no_padding": np.zeros(7, np.int64),
        c + "phase_shape": np.array([0, -1, 4, channels], np.int64),
        c + "grid_rest": np.array([-1, channels], np.int64),
        c + "keep": np.array([0], np.int64),
    }
    image, image_scale, image_zero = image_dq.input[0], image_dq.input[1], image_dq.input[2]

    def node(op: str, inputs: list[str], output: str, **attrs) -> onnx.NodeProto:
        return helper.make_node(op, inputs, [f"{tag}/{output}"], name=f"{tag}/{output}", **attrs)

    t = f"{tag}/"
    nodes = [
        # right padding (the zero point: a dequantised 0, as the convolution pads) to width
        # 2 (W // 2) + 2, so the last block's right neighbour exists and the width is even
        node("Shape", [image], "shape"),
        node("Gather", [t + "shape", c + "width"], "image_width", axis=0),
        node("Mod", [t + "image_width", c + "two"], "odd"),
        node("Sub", [c + "two", t + "odd"], "extra"),
        node("Concat", [c + "no_padding", t + "extra"], "pads", axis=0),
        node("Pad", [image, t + "pads", image_zero], "padded"),
        node("SpaceToDepth", [t + "padded"], "blocks", blocksize=2),
        node("DequantizeLinear", [t + "blocks", image_scale, image_zero], "blocks_dq"),
        node("DequantizeLinear", [c + "weights", c + "weights_1", c + "weights_2"], "weights_dq", axis=0),
        node("DequantizeLinear", [c + "bias_0", c + "bias_1", c + "bias_2"], "bias_dq", axis=0),
        # no padding on the right: W // 2 outputs, as the pooled convolution gives
        node("Conv", [t + "blocks_dq", t + "weights_dq", t + "bias_dq"], "conv",
             kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 0]),
        node("QuantizeLinear", [t + "conv", *quantize.input[1:]], "conv_q"),
        # the maximum over the phases: (N, 4C, H, W) -> (N, H W, 4, C), pooled over its 4
        node("Transpose", [t + "conv_q"], "channels_last", perm=[0, 2, 3, 1]),
        node("Reshape", [t + "channels_last", c + "phase_shape"], "by_phase"),
        node("Transpose", [t + "by_phase"], "by_phase_nchw", perm=[0, 3, 1, 2]),
        node("MaxPool", [t + "by_phase_nchw"], "pooled", kernel_shape=[1, 4], strides=[1, 4]),
        node("Transpose", [t + "pooled"], "pooled_nhwc", perm=[0, 2, 3, 1]),
        node("Gather", [t + "shape", c + "height"], "image_height", axis=0),
        node("Div", [t + "image_height", c + "two"], "half_height"),
        node("Concat", [c + "keep", t + "half_height", c + "grid_rest"], "grid_shape", axis=0),
        node("Reshape", [t + "pooled_nhwc", t + "grid_shape"], "grid"),
    ]
    nodes.append(helper.make_node("Transpose", [t + "grid"], [requantize.output[0]], name=t + "out", perm=[0, 3, 1, 2]))
    return nodes, new
