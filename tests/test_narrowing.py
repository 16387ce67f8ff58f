"""Cutting a cheaper network from a trained one (ocr.models.narrowing, python -m ocr.train.narrow)."""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from ocr import CheckpointError
from ocr.models import CRNN
from ocr.models.narrowing import conv_channels, copy_narrowed, strided_kernel
from ocr.reading.checkpoint import load_model
from ocr.train.narrow import narrow_checkpoint
from ocr.train.wiring import train
from tests.conftest import ROOT, tiny_config

RNN = {"cell": "lstm", "hidden_size": 16, "num_layers": 2, "bidirectional": True}
FULL = [8, 16, 32, 32, 64, 64, 64]
NARROW = [8, 12, 24, 24, 48, 48, 64]


def crnn(channels: list[int], stem: str = "pooled") -> CRNN:
    backbone = {"in_channels": 1, "channels": channels, "mask_padding": True, "stem": stem}
    return CRNN(11, backbone=backbone, rnn=RNN).eval()


def test_the_strided_kernel_computes_the_pooled_convolution_averaged_over_each_window():
    torch.manual_seed(0)
    kernel, images = torch.randn(5, 1, 3, 3), torch.randn(2, 1, 32, 40)
    pooled = F.avg_pool2d(F.conv2d(images, kernel, padding=1), 2)
    strided = F.conv2d(images, strided_kernel(kernel), stride=2, padding=1)
    assert torch.allclose(strided, pooled, atol=1e-5)


def test_narrowing_drops_the_channels_weighed_least_and_reads_the_same_where_they_carried_nothing():
    torch.manual_seed(0)
    source = crnn(FULL)
    for index, module in enumerate(m for m in source.backbone.layers if isinstance(m, torch.nn.BatchNorm2d)):
        module.weight.data = torch.randn(module.num_features).sign() * torch.empty(module.num_features).uniform_(0.5, 1.5)
        module.running_mean.uniform_(-0.5, 0.5)
        dropped = FULL[index] - NARROW[index]
        if dropped:  # channels scaled to zero, with no shift: they output zeros
            silent = torch.randperm(module.num_features)[:dropped]
            module.weight.data[silent], module.bias.data[silent] = 0.0, 0.0
    narrowed = crnn(NARROW)
    copy_narrowed(source, narrowed)
    assert conv_channels(narrowed) == NARROW
    images, widths = torch.rand(3, 1, 32, 48), torch.tensor([48, 40, 33])
    with torch.no_grad():
        assert torch.allclose(narrowed(images, widths), source(images, widths), atol=1e-5)


@pytest.mark.parametrize("channels, stem, message", [
    ([8, 16, 40, 32, 64, 64, 64], "pooled", "convolution 3 has 32 channels; it cannot be widened to 40"),
    ([8, 16, 32, 32, 64, 64, 48], "pooled", "the last convolution feeds the RNN: keep its 64 channels"),
])
def test_what_cannot_be_cut_from_a_network_is_refused(channels, stem, message):
    with pytest.raises(ValueError, match=message):
        copy_narrowed(crnn(FULL), crnn(channels, stem))


def test_a_strided_stem_does_not_become_a_pooled_one():
    with pytest.raises(ValueError, match="only a pooled stem can become a strided one"):
        copy_narrowed(crnn(FULL, "strided"), crnn(FULL))


def test_a_narrowed_checkpoint_is_fine_tuned_as_the_command_prints_it(tiny_checkpoint, tmp_path):
    done = subprocess.run([sys.executable, "-m", "ocr.train.narrow", str(tiny_checkpoint), str(tmp_path / "n.ckpt"),
                           "--channels", *map(str, NARROW), "--stem", "strided"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    command = done.stdout.splitlines()[-1].split()
    assert command[:3] == ["python", "train.py", "experiment=finetune_narrowed"]
    narrowed = load_model(tmp_path / "n.ckpt")
    assert conv_channels(narrowed.model) == NARROW
    assert narrowed.hparams["model"]["backbone"]["stem"] == "strided"
    # the experiment (rendered and real data, 8,000 steps) gives the tiny config the channels key it lacks
    overrides = [("+" if o.startswith("model.backbone.channels=") else "") + o for o in command[3:]]
    train(tiny_config(*overrides, "data.val_size=0", "trainer.max_steps=1"), tmp_path / "ft")
    assert (tmp_path / "ft" / "checkpoints" / "last.ckpt").is_file()


def test_narrowing_a_missing_checkpoint_is_one_line_naming_it(tmp_path):
    with pytest.raises(CheckpointError, match="nothere.ckpt: no such checkpoint file"):
        narrow_checkpoint(tmp_path / "nothere.ckpt", tmp_path / "out.ckpt", NARROW)
