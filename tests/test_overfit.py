"""A tiny model must learn 8 fixed words perfectly, with CTC and with per-step cross-entropy."""
import random

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from ocr.charset import Charset
from ocr.data.batch import Collate, Example
from ocr.data.synth import WordRenderer, installed_fonts
from ocr.data.transforms import Preprocess
from ocr.decoding import greedy_decode
from ocr.models import num_frames
from ocr.system import RecognitionSystem

WORDS = ["simply", "OPEN", "cafe", "2026", "Salutes!", "street", "ab", "Hello"]
CHARSET = Charset("".join(chr(c) for c in range(33, 127)))


def eight_words() -> list[Example]:
    rng = random.Random(0)
    renderer = WordRenderer(installed_fonts()[:4], font_sizes=(40, 44), max_angle=0.0)
    preprocess = Preprocess(max_width=160)
    examples = []
    for word in WORDS:
        image, extents = renderer.render(word, rng)
        tensor, scale = preprocess(image)
        examples.append(Example(tensor, word, [(a * scale, b * scale) for a, b in extents]))
    return examples


class StopWhenPerfect(L.Callback):
    def __init__(self, batch, every: int = 20) -> None:
        self.batch, self.every, self.accuracy = batch, every, 0.0

    def on_train_batch_end(self, trainer, system, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every == 0:
            self.accuracy = accuracy(system, self.batch)
            trainer.should_stop = self.accuracy == 1.0


def accuracy(system: RecognitionSystem, batch) -> float:
    system.eval()
    with torch.no_grad():
        predictions = greedy_decode(system(batch.images, batch.widths), num_frames(batch.widths), system.charset)
    system.train()
    return sum(p.text == t for p, t in zip(predictions, batch.texts)) / len(batch.texts)


@pytest.mark.parametrize("loss", ["ctc", "ce"])
def test_tiny_model_overfits_eight_words(loss):
    L.seed_everything(0, verbose=False)
    examples = eight_words()
    batch = Collate(CHARSET)(examples)
    system = RecognitionSystem(
        charset=CHARSET.to_config(),
        model={"input": {"channels": 1}, "backbone": {"width_mult": 0.25}},
        rnn={"cell": "lstm", "hidden_size": 64, "num_layers": 2, "bidirectional": True},
        loss=loss,
        optim={"optimizer": {"_target_": "torch.optim.AdamW", "lr": 3e-3}},
    )
    loader = DataLoader(examples, batch_size=8, shuffle=True, collate_fn=Collate(CHARSET))
    stop = StopWhenPerfect(batch)
    trainer = L.Trainer(
        max_steps=600, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=5.0,
        callbacks=[stop],
    )
    trainer.fit(system, loader)
    assert accuracy(system, batch) == 1.0, f"stopped at step {trainer.global_step}"
