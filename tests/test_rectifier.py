"""The TPS rectifier: identity at the start, blind to padding, learns a warp, exports to ONNX."""
import pytest
import torch
import torch.nn.functional as F

from ocr.models.rectifier import TPSRectifier, fiducial_rectangle, tps_sampling_matrix


def test_it_starts_as_a_resize_of_each_images_valid_part_and_never_reads_the_padding():
    rectifier = TPSRectifier(output_size=(32, 96)).eval()
    images = torch.rand(2, 1, 32, 200)
    images[1, :, :, 120:] = 5.0  # padding of the narrower image
    out, widths = rectifier(images, torch.tensor([200, 120]))
    assert out.shape == (2, 1, 32, 96) and widths.tolist() == [96, 96]
    for i, w in enumerate((200, 120)):
        expected = F.interpolate(images[i : i + 1, :, :, :w], size=(32, 96), mode="bilinear", align_corners=False)
        assert torch.allclose(out[i : i + 1], expected, atol=1e-4)
    alone, _ = rectifier(images[1:, :, :, :120], torch.tensor([120]))
    assert torch.allclose(alone, out[1:], atol=1e-4)  # a reading does not depend on the batch


def test_the_spline_carries_the_control_points_where_they_were_moved():
    targets = fiducial_rectangle(8, margin=0.0)
    sampling = tps_sampling_matrix(targets, 3, 5)  # 3x5 output pixels
    source = targets + 0.1 * torch.randn_like(targets)
    grid = (sampling @ source).view(3, 5, 2)
    assert torch.allclose(sampling.sum(dim=1), torch.ones(15), atol=1e-4)  # affine part: rows sum to 1
    # identity points give the identity map of pixel centres
    centres = (sampling @ targets).view(3, 5, 2)
    assert torch.allclose(centres[0, :, 0], torch.tensor([-0.8, -0.4, 0.0, 0.4, 0.8]), atol=1e-4)
    assert torch.allclose(centres[:, 0, 1], torch.tensor([-2 / 3, 0.0, 2 / 3]), atol=1e-4)
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
    rectifier = TPSRectifier(output_size=(32, 64), fiducials=8)
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
