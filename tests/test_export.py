"""Exported models give the same numbers as PyTorch, for other batch sizes and widths too."""
import json

import pytest
import torch

from ocr.checkpoint import load_model
from ocr.export import export


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_matches_pytorch_with_dynamic_batch_and_width(tiny_checkpoint, tmp_path, fmt):
    out = export(tiny_checkpoint, fmt, tmp_path / f"model.{fmt}")
    model = load_model(tiny_checkpoint).model
    for batch, width in [(1, 48), (3, 200)]:
        images = torch.randn(batch, 1, 32, width)
        with torch.no_grad():
            expected = model(images)
        if fmt == "onnx":
            import onnxruntime

            session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
            got = torch.from_numpy(session.run(None, {"images": images.numpy()})[0])
        else:
            got = torch.jit.load(str(out))(images)
        assert got.shape == expected.shape == (width // 4 + 1, batch, expected.shape[-1])
        assert torch.allclose(got, expected, atol=1e-4)


def test_onnx_file_carries_its_charset(tiny_checkpoint, tmp_path):
    import onnx

    out = export(tiny_checkpoint, "onnx", tmp_path / "m.onnx")
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["ocr.charset"]) == load_model(tiny_checkpoint).charset.to_config()
