"""Shared fixtures: tiny configs, a tiny trained checkpoint, sample images."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hypothesis import settings
from omegaconf import DictConfig, OmegaConf

from ocr.config import compose_config
from ocr.data.basic import WordRenderer
from ocr.data.batch import Example
from ocr.data.fonts import installed_fonts
from ocr.data.scene import SceneRenderer
from ocr.data.texts import TextSampler
from ocr.data.transforms import Preprocess
from ocr.text.charset import Charset

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"

# Small enough for seconds per run on 2 cores.
TINY = [
    "model.backbone.width_mult=0.125",
    "model.rnn_hidden_size=32",
    "model.input.max_width=128",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.val_size=16",
    "data.synth.epoch_size=32",  # 4 steps per epoch
    "trainer.val_check_interval=4",  # one validation each
    "data.synth.text.vocabulary_size=2000",
    "trainer.max_steps=4",
    "trainer.log_every_n_steps=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
    "checkpoint.every_n_train_steps=2",
]

torch.set_num_threads(min(2, os.cpu_count() or 1))
# property tests draw the same examples on every run, so CI is reproducible
settings.register_profile("reproducible", derandomize=True)
settings.load_profile("reproducible")


def tiny_config(*overrides: str) -> DictConfig:
    """The training config with TINY settings and ``overrides`` applied."""
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(config_name="train", overrides=[*TINY, *overrides])


def run_script(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run one of the repository's CLI scripts with this interpreter."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def modules_loaded_by(script: str, *args: str) -> set[str]:
    """The top-level modules a run of the CLI script ``script`` imports (in a process of its
    own), however it exits."""
    code = (f"import runpy, sys\nsys.argv = [{script!r}, *sys.argv[1:]]\n"
            f"try:\n    runpy.run_path({script!r}, run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return set(result.stderr.strip().splitlines()[-1].split())


def _tiny_run(tmp_path_factory, name: str, *overrides: str) -> Path:
    """The last checkpoint of a few training steps of a tiny model (weights barely trained)."""
    from ocr.train.wiring import train

    run_dir = tmp_path_factory.mktemp(name)
    train(tiny_config(*overrides), run_dir)
    return run_dir / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint from a few training steps of a tiny model (weights barely trained)."""
    return _tiny_run(tmp_path_factory, "tiny_run")


@pytest.fixture(scope="session")
def tiny_strided_checkpoint(tmp_path_factory) -> Path:
    """As ``tiny_checkpoint``, with the strided stem (``model.backbone.stem=strided``)."""
    return _tiny_run(tmp_path_factory, "tiny_strided_run", "model.backbone.stem=strided")


WORDS = ["simply", "OPEN", "cafe", "2026", "Salutes!", "street", "ab", "Hello"]
CHARSET = Charset("".join(chr(c) for c in range(33, 127)))


def eight_words() -> list[Example]:
    """WORDS rendered plainly (fixed seed), with their character extents."""
    rng = random.Random(0)
    renderer = WordRenderer(installed_fonts()[:4], font_sizes=(40, 44), max_angle=0.0)
    preprocess = Preprocess(max_width=160)
    examples = []
    for word in WORDS:
        image, extents = renderer.render(word, rng)
        pixels, scale = preprocess(image)
        examples.append(Example(torch.from_numpy(pixels), word, [(a * scale, b * scale) for a, b in extents]))
    return examples


def phone_photo(width: int = 3000):
    """The sample "Street" enlarged to ``width`` pixels, as a phone would take a word: far larger
    than the model needs."""
    from PIL import Image

    word = Image.open(SAMPLES / "street.png").convert("RGB")
    return word.resize((width, round(width * word.height / word.width)), Image.Resampling.BICUBIC)


def onnx_nodes(graph):
    """The nodes of an ONNX graph and of its subgraphs (an ``If``'s branches)."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.g.node:
                yield from onnx_nodes(attribute.g)


def random_logp(seed: int, steps: int = 5, classes: int = 3, sharpness: float = 2.0) -> np.ndarray:
    """Random per-step log-probabilities ``(steps, classes)``, reproducible by ``seed``."""
    logits = np.random.default_rng(seed).normal(size=(steps, classes)) * sharpness
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


@lru_cache(maxsize=None)
def _synth_settings(renderer: str) -> dict:
    cfg = compose_config([f"renderer={renderer}"]).data.synth
    return OmegaConf.to_container(cfg, resolve=True)


def text_sampler(charset: Charset, **changes) -> TextSampler:
    """The text sampler of configs/data/synth.yaml, with ``changes``."""
    return TextSampler(charset, **{**_synth_settings("scene")["text"], **changes})


def scene_renderer(fonts, effects: dict[str, float] | None = None, **changes) -> SceneRenderer:
    """The scene renderer of configs/renderer/scene.yaml, ``effects`` changed, and ``changes``."""
    render = {k: v for k, v in _synth_settings("scene")["render"].items() if k != "name"}
    render["effects"] = {**render["effects"], **(effects or {})}
    return SceneRenderer(fonts, **{**render, **changes})


def basic_renderer(fonts, **changes) -> WordRenderer:
    """The basic renderer of configs/renderer/basic.yaml, with ``changes``."""
    render = {k: v for k, v in _synth_settings("basic")["render"].items() if k != "name"}
    return WordRenderer(fonts, **{**render, **changes})
