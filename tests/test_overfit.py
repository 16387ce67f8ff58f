"""A tiny model must learn 8 fixed words perfectly, with CTC and with per-step cross-entropy."""
import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from ocr.data.batch import Collate
from ocr.geometry import num_frames
from ocr.text.decoding import greedy_decode
from ocr.train.system import RecognitionSystem
from tests.conftest import CHARSET, eight_words


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
