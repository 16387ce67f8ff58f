import pytest
import torch

from ocr.geometry import num_frames
from ocr.models import CRNN
from ocr.models.backbone import STEMS

RNN = {"cell": "lstm", "hidden_size": 16, "num_layers": 2, "bidirectional": True}


def tiny_crnn(cell: str = "lstm", mask_padding: bool = False, stem: str = "pooled") -> CRNN:
    torch.manual_seed(0)
    backbone = {"in_channels": 1, "width_mult": 0.125, "mask_padding": mask_padding, "stem": stem}
    model = CRNN(11, backbone=backbone, rnn={**RNN, "cell": cell}).eval()
    for module in model.modules():  # non-trivial statistics, as after training: padding becomes non-zero
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return model


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("width", [32, 33, 35, 64, 100, 128, 255])
def test_time_steps_follow_input_width(width, stem):
    assert num_frames(width) == width // 4 + 1
    out = tiny_crnn(stem=stem)(torch.zeros(2, 1, 32, width))
    assert out.shape == (num_frames(width), 2, 11)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_outputs_are_log_probabilities(cell):
    out = tiny_crnn(cell)(torch.randn(3, 1, 32, 64))
    assert torch.allclose(out.exp().sum(-1), torch.ones(out.shape[:2]), atol=1e-5)


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("width", [33, 34, 35, 48, 61])
def test_with_masked_padding_a_reading_does_not_depend_on_its_batch(width, stem):
    word = torch.randn(1, 1, 32, width)
    batch = torch.cat([torch.nn.functional.pad(word, (0, 128 - width)), torch.randn(1, 1, 32, 128)])
    widths = torch.tensor([width, 128])
    frames = num_frames(width)
    with torch.no_grad():
        masked = tiny_crnn(mask_padding=True, stem=stem)
        assert torch.allclose(masked(word, widths[:1])[:, 0], masked(batch, widths)[:frames, 0], atol=1e-5)
        unmasked = tiny_crnn(mask_padding=False, stem=stem)  # the convolutions' borders see the padding
        assert not torch.allclose(unmasked(word, widths[:1])[:, 0], unmasked(batch, widths)[:frames, 0], atol=1e-4)


def test_backbone_channels_can_be_given_per_layer():
    channels = [8, 8, 16, 16, 12, 12, 24]
    model = CRNN(11, backbone={"in_channels": 1, "channels": channels}, rnn=RNN)
    convs = [m for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == channels
    assert model(torch.zeros(1, 1, 32, 64)).shape == (num_frames(64), 1, 11)
    with pytest.raises(ValueError, match="7 numbers"):
        CRNN(11, backbone={"in_channels": 1, "channels": [8, 8]}, rnn=RNN)


def test_strided_stem_is_one_convolution_in_place_of_convolution_and_pooling():
    pooled, strided = (tiny_crnn(stem=stem).backbone.layers for stem in STEMS)
    assert len(strided) == len(pooled) - 1
    assert (strided[0].kernel_size, strided[0].stride) == ((4, 4), (2, 2))
    with pytest.raises(ValueError, match="stem must be one of pooled, strided"):
        tiny_crnn(stem="patchify")


def test_backbone_rejects_wrong_height():
    with pytest.raises(ValueError, match="height 32"):
        tiny_crnn()(torch.zeros(1, 1, 48, 64))


def test_batch_norm_folded_into_the_convolutions_gives_the_same_output():
    model = tiny_crnn()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    images = torch.randn(2, 1, 32, 80)
    with torch.no_grad():
        before = model(images)
        model.backbone.fuse_batch_norm()
        after = model(images)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert torch.allclose(before, after, atol=1e-5)
