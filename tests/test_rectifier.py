"""The TPS rectifier: identity at the start, blind to padding, learns a warp, exports to ONNX."""
import importlib.util

import pytest
import torch
import torch.nn.functional as F

from ocr.models.rectifier import TPSRectifier, fiducial_rectangle, tps_sampling_matrix


def test_it_starts_as_the_identity_keeps_each_width_and_never_reads_the_padding():
    rectifier = TPSRectifier().eval()
    images = torch.rand(2, 1, 32, 200)
    images[1, :, :, 120:] = 0.0  # padding of the narrower image, as batches have it
    out, widths = rectifier(images, torch.tensor([200, 120]))
    assert out.shape == images.shape and widths.tolist() == [200, 120]
    assert torch.allclose(out, images, atol=1e-4)
    alone, _ = rectifier(images[1:, :, :, :120], torch.tensor([120]))
    assert torch.allclose(alone, out[1:, :, :, :120], atol=1e-4)  # a reading does not depend on the batch


def test_the_spline_carries_the_control_points_where_they_were_moved():
    targets = fiducial_rectangle(8, margin=0.0)
    sampling = tps_sampling_matrix(targets, 3, 5)  # a 3x5 grid, corners included
    source = targets + 0.1 * torch.randn_like(targets)
    grid = (sampling @ source).view(3, 5, 2)
    assert torch.allclose(sampling.sum(dim=1), torch.ones(15), atol=1e-4)  # affine part: rows sum to 1
    # unmoved points give the identity map of the grid
    centres = (sampling @ targets).view(3, 5, 2)
    assert torch.allclose(centres[0, :, 0], torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]), atol=1e-4)
    assert torch.allclose(centres[:, 0, 1], torch.tensor([-1.0, 0.0, 1.0]), atol=1e-4)
    assert not torch.allclose(grid, centres, atol=1e-3)
    with pytest.raises(ValueError, match="even number of at least 4"):
        fiducial_rectangle(5)


def test_it_learns_to_undo_a_slant():
    torch.manual_seed(0)
    straight = torch.zeros(8, 1, 32, 64)
    straight[:, :, :, 28:36] = 1.0  # a vertical bar
    shear = torch.tensor([[1.0, 0.4, 0.0], [0.0, 1.0, 0.0]]).expand(8, 2, 3)
    slanted = F.grid_sample(straight, F.affine_grid(shear, list(straight.shape), align_corners=False),
                            align_corners=False, padding_mode="border")
    rectifier = TPSRectifier(fiducials=8)
    optimiser = torch.optim.Adam(rectifier.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        out, _ = rectifier(slanted)
        loss = F.mse_loss(out, straight)
        first = first if first is not None else loss.item()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.3 * first


def test_it_exports_to_onnx_with_a_dynamic_batch_and_width(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    rectifier = TPSRectifier().eval()
    images, widths = torch.rand(2, 1, 32, 150), torch.tensor([150, 90])
    path = tmp_path / "tps.onnx"
    torch.onnx.export(rectifier, (images, widths), path, input_names=["images", "widths"], output_names=["out", "w"],
                      dynamic_axes={"images": {0: "batch", 3: "width"}, "widths": {0: "batch"}}, dynamo=False)
    session = ort.InferenceSession(str(path))
    other = torch.rand(3, 1, 32, 210), torch.tensor([210, 100, 40])
    for x, w in ((images, widths), other):
        (got, _) = session.run(None, {"images": x.numpy(), "widths": w.numpy()})
        assert torch.allclose(torch.from_numpy(got), rectifier(x, w)[0], atol=1e-4)


def test_a_crnn_with_a_rectifier_trains_resumes_and_starts_from_a_plain_checkpoint(tiny_checkpoint, tmp_path, caplog):
    import logging

    from ocr.reading.checkpoint import load_model
    from ocr.train.wiring import train
    from tests.conftest import tiny_config

    with caplog.at_level(logging.INFO):
        train(tiny_config("model.rectifier=tps", "trainer.max_steps=2", f"init_from={tiny_checkpoint}"), tmp_path / "a")
    assert "it has no rectifier, so the rectifier starts as the identity" in caplog.text
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    assert load_model(last).model.rectifier is not None
    trainer = train(tiny_config("model.rectifier=tps", "trainer.max_steps=3", f"ckpt_path={last}"), tmp_path / "b")
    assert trainer.global_step == 3
    if importlib.util.find_spec("onnxruntime"):  # the whole CRNN with its rectifier exports
        from ocr.reading.backends import load_onnx
        from ocr.reading.export import export

        onnx_model = load_onnx(export(last, "onnx", tmp_path / "tps.onnx")).model
        images, widths = torch.rand(3, 1, 32, 140), torch.tensor([140, 100, 60])
        expected = load_model(last).model(images, widths)
        assert torch.allclose(torch.from_numpy(onnx_model(images.numpy(), widths.numpy())), expected, atol=1e-4)
    with pytest.raises(ValueError, match="model.rectifier must be one of none, tps"):
        train(tiny_config("model.rectifier=stn"), tmp_path / "c")


def test_int8_export_keeps_the_rectifier_in_fp32(tiny_checkpoint, tmp_path):
    pytest.importorskip("onnxruntime")
    import onnx

    from ocr.reading.export import export
    from ocr.train.wiring import train
    from tests.conftest import onnx_nodes, tiny_config

    train(tiny_config("model.rectifier=tps", "trainer.max_steps=1", "data.val_size=0"), tmp_path / "run")
    int8 = onnx.load(str(export(tmp_path / "run" / "checkpoints" / "last.ckpt", "onnx-int8", tmp_path / "m.onnx")))
    nodes = list(onnx_nodes(int8.graph))  # the graph's two branches (ocr/reading/unpadded.py) included
    dequantized = {out for n in nodes if n.op_type == "DequantizeLinear" for out in n.output}
    rectifier = [n for n in nodes if n.name.startswith("/rectifier/")
                 and n.op_type in ("Conv", "MatMul", "Gemm", "GridSample")]
    assert dequantized and any(n.op_type == "GridSample" for n in rectifier)
    assert not [n.name for n in rectifier if set(n.input) & dequantized]  # its layers and sampling run in fp32


def test_int8_export_of_the_default_model_with_a_rectifier_added_reads_like_fp32(tmp_path):
    """A user fine-tuning the default model with ``model.rectifier=tps`` gets an int8 export
    that reads as well as fp32 (it once read 0.2% of IC13: an ONNX ``If`` from ``squeeze``)."""
    pytest.importorskip("onnxruntime")
    import onnx

    from ocr import Recognizer
    from ocr.assets import DEFAULT_MODEL
    from ocr.models import build_model
    from ocr.reading.backends import int8_format
    from ocr.reading.checkpoint import read_checkpoint
    from ocr.reading.export import export
    from ocr.text.charset import Charset
    from ocr.train.checkpoint_io import init_from_checkpoint
    from tests.conftest import SAMPLES, onnx_nodes

    ckpt = read_checkpoint(DEFAULT_MODEL)
    hparams = ckpt["hyper_parameters"]
    hparams["model"] = {**hparams["model"], "rectifier": "tps", "tps": {}}
    charset = Charset.from_config(hparams["charset"])
    model = build_model(charset.num_classes, hparams["model"], hparams["rnn"])
    init_from_checkpoint(model, DEFAULT_MODEL, charset)  # the rectifier starts as the identity
    torch.save({**ckpt, "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "tps.ckpt")
    paths = sorted(SAMPLES.glob("*.*g"))
    expected = Recognizer.load(DEFAULT_MODEL, precision="fp32").read(paths)
    got = Recognizer.load(export(tmp_path / "tps.ckpt", int8_format(), tmp_path / "tps.int8.onnx")).read(paths)
    assert [p.text for p in got] == [p.text for p in expected]
    branches = [n for n in onnx_nodes(onnx.load(str(tmp_path / "tps.int8.onnx")).graph) if n.op_type == "If"]
    assert len(branches) == 1  # only the unpadded-batch branch (ocr/reading/unpadded.py), none from squeeze
