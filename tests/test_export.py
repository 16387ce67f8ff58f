"""Exported models give the same numbers as PyTorch, for other batch sizes and widths too."""
import json
import subprocess
import sys

import pytest
import torch

from ocr.reading.backends import int8_format
from ocr.reading.checkpoint import load_model
from ocr.reading.export import export
from tests.conftest import onnx_nodes


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("trained", ["tiny_checkpoint", "tiny_strided_checkpoint"])
def test_export_matches_pytorch_with_dynamic_batch_and_width(request, tmp_path, fmt, trained):
    checkpoint = request.getfixturevalue(trained)
    out = export(checkpoint, fmt, tmp_path / f"model.{fmt}")
    model = load_model(checkpoint).model
    for widths in ([48], [200, 64, 120], [96, 96]):
        images, widths = torch.randn(len(widths), 1, 32, max(widths)), torch.tensor(widths)
        with torch.no_grad():
            expected = model(images, widths)
        if fmt == "onnx":
            from ocr.reading.backends import OnnxModel

            got = torch.from_numpy(OnnxModel(out, threads=2)(images.numpy(), widths.numpy()))  # two sessions
        else:
            got = torch.jit.load(str(out))(images, widths)
        assert got.shape == expected.shape == (max(widths) // 4 + 1, len(widths), expected.shape[-1])
        for i, steps in enumerate((widths // 4 + 1).tolist()):  # valid steps of each image
            assert torch.allclose(got[:steps, i], expected[:steps, i], atol=1e-4)
            with torch.no_grad():  # the padding is masked: as read alone
                alone = model(images[i:i + 1, ..., : widths[i]], widths[i:i + 1])
            assert torch.allclose(got[:steps, i], alone[:, 0], atol=1e-4)


def test_onnx_file_carries_its_charset(tiny_checkpoint, tmp_path):
    import onnx

    out = export(tiny_checkpoint, "onnx", tmp_path / "m.onnx")
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["ocr.charset"]) == load_model(tiny_checkpoint).charset.to_config()


def test_onnx_backend_reads_like_pytorch(tiny_checkpoint, tmp_path):
    from ocr import Recognizer
    from tests.conftest import SAMPLES

    paths = sorted(SAMPLES.glob("*.*g"))
    torch_read = Recognizer.load(tiny_checkpoint, backend="torch", precision="fp32").read(paths)
    onnx_read = Recognizer.load(tiny_checkpoint, backend="onnx", precision="fp32").read(paths)
    exported = Recognizer.load(export(tiny_checkpoint, "onnx", tmp_path / "m.onnx")).read(paths)
    assert [p.text for p in torch_read] == [p.text for p in onnx_read] == [p.text for p in exported]
    for a, b in zip(torch_read, exported):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)


@pytest.mark.parametrize("fmt, weight_bits", [("onnx-int8", 8), ("onnx-int8-7bit", 7)])
def test_int8_export_of_the_default_model_reads_like_pytorch(fmt, weight_bits, tmp_path):
    import numpy as np
    import onnx
    from onnx.numpy_helper import to_array

    from ocr import Recognizer
    from ocr.assets import DEFAULT_MODEL
    from tests.conftest import SAMPLES

    paths = sorted(SAMPLES.glob("*.*g"))
    int8 = export(DEFAULT_MODEL, fmt, tmp_path / "int8.onnx")
    graph = onnx.load(str(int8)).graph
    int8_weights = [t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) >= 2]
    assert len(int8_weights) == 8 + 4  # seven convolutions, the output layer, two LSTM layers' W and R
    largest = max(int(np.abs(to_array(t).astype(np.int16)).max()) for t in int8_weights)
    assert 2 ** (weight_bits - 2) < largest <= 2 ** (weight_bits - 1)  # each weight tensor's range used fully
    ops = {node.op_type for node in onnx_nodes(graph)}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    assert "SpaceToDepth" in ops  # the pooled stem computed as phases (ocr/reading/phase_stem.py)
    # a shape is read off the quantised tensor, not off an fp32 copy made only to give it
    dequantised = {node.output[0] for node in onnx_nodes(graph) if node.op_type == "DequantizeLinear"}
    assert not [node.name for node in onnx_nodes(graph) if node.op_type == "Shape" and node.input[0] in dequantised]
    if fmt != int8_format():
        pytest.skip(f"read only where its kernels are exact: this CPU reads {int8_format()} (ocr/reading/backends.py)")
    expected = Recognizer.load(DEFAULT_MODEL, precision="fp32").read(paths)
    got = Recognizer.load(int8).read(paths)
    assert [p.text for p in got] == [p.text for p in expected]


def test_the_int8_stem_as_phases_gives_the_same_numbers_bit_for_bit(tiny_checkpoint, tmp_path, monkeypatch):
    import numpy as np
    import onnx

    import ocr.reading.phase_stem
    from ocr.reading.backends import OnnxModel
    from ocr.reading.phase_stem import pooled_stems_as_phases

    monkeypatch.setattr(ocr.reading.phase_stem, "pooled_stems_as_phases", lambda model: 0)
    plain = export(tiny_checkpoint, int8_format(), tmp_path / "plain.onnx")  # exact on this CPU's kernels
    model = onnx.load(str(plain))
    assert pooled_stems_as_phases(model) == 2  # in the padded and the unpadded branch
    onnx.save(model, str(tmp_path / "phases.onnx"))
    convs = [n for n in onnx_nodes(model.graph) if n.op_type == "Conv"]
    assert len(convs) == 2 * 7 and {"SpaceToDepth", "Pad"} <= {n.op_type for n in onnx_nodes(model.graph)}
    before, after = OnnxModel(plain, threads=1), OnnxModel(tmp_path / "phases.onnx", threads=1)
    rng = np.random.default_rng(0)
    for widths in ([57], [32], [100, 100], [129, 40, 87], [256, 31]):  # odd and even, padded or not
        images = rng.uniform(-1, 1, (len(widths), 1, 32, max(widths))).astype(np.float32)
        widths = np.array(widths)
        assert np.array_equal(before(images, widths), after(images, widths))


def test_a_batch_without_padding_skips_the_masks_with_the_same_numbers(tiny_checkpoint, tmp_path):
    import numpy as np
    import onnx

    from ocr.reading.backends import OnnxModel

    out = export(tiny_checkpoint, "onnx", tmp_path / "m.onnx")
    (branch,) = [node for node in onnx.load(str(out)).graph.node if node.op_type == "If"]
    branches = {a.name: a.g for a in branch.attribute}
    less = {name: sum(n.op_type == "Less" for n in onnx_nodes(g)) for name, g in branches.items()}
    assert less["then_branch"] == 0 < less["else_branch"]  # no mask is built where none is needed
    run = OnnxModel(out, threads=1)
    images = np.random.default_rng(0).standard_normal((3, 1, 32, 96)).astype(np.float32)
    unpadded = run(images[:2], np.array([96, 96]))
    padded = run(images, np.array([96, 96, 40]))  # the third image's padding takes the masked branch
    assert np.allclose(unpadded, padded[:, :2], atol=1e-5)


def test_a_file_that_is_not_an_ocr_export_is_refused_by_name(tmp_path):
    from ocr import CheckpointError, Recognizer

    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="fake.onnx: not an ocr ONNX export"):
        Recognizer.load(fake)


@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8"])
def test_export_says_what_it_wrote_and_nothing_else(tiny_checkpoint, tmp_path, fmt):
    # the exporter's checked warnings (legacy exporter, tracer, LSTM batch size, PackPadded
    # shape inference, onnxruntime's pre-processing advice) used to fill the terminal
    from tests.conftest import ROOT

    out = tmp_path / "model.onnx"
    result = subprocess.run([sys.executable, "-m", "ocr.reading.export", "--checkpoint", str(tiny_checkpoint),
                             "--format", fmt, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and out.is_file()
    assert result.stdout == f"wrote {out}\n" and result.stderr == ""
