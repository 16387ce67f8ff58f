"""Training through the Hydra config: start-up checks, clipping, non-finite steps, resume."""
import csv
import functools
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

from ocr.reading.checkpoint import safe_load
from ocr.train.system import NonFiniteTrainingError
from ocr.train.wiring import ConfigError, build_datamodule, build_system, train
from tests.conftest import TINY, WORDS, eight_words, run_script, tiny_config


def test_ce_loss_without_alignment_fails_at_start_up(tmp_path):
    folder = tmp_path / "words"
    folder.mkdir()
    (folder / "labels.tsv").write_text("a.png\tword\n")
    cfg = tiny_config("loss=ce", "data=folder", f"data.folder_dirs=[{folder}]")
    with pytest.raises(ConfigError, match="loss=ce needs character extents"):
        train(cfg, tmp_path / "run")


class GradientRecorder(L.Callback):
    """Largest absolute gradient entry seen after each optimiser step (i.e. after clipping)."""

    def __init__(self) -> None:
        self.max_abs: list[float] = []

    def on_train_batch_end(self, trainer, system, *args) -> None:
        self.max_abs.append(max(p.grad.abs().max().item() for p in system.parameters() if p.grad is not None))


def fit_tiny(cfg, callbacks=()) -> L.Trainer:
    system = build_system(cfg)
    datamodule = build_datamodule(cfg, system.charset)
    trainer = L.Trainer(**cfg.trainer, logger=False, enable_checkpointing=False, callbacks=list(callbacks))
    trainer.fit(system, datamodule=datamodule)
    return trainer


def test_clip_by_value_bounds_every_gradient():
    unclipped, clipped = GradientRecorder(), GradientRecorder()
    fit_tiny(tiny_config("trainer.gradient_clip_val=null", "data.val_size=0"), [unclipped])
    fit_tiny(tiny_config("trainer.gradient_clip_val=0.001", "trainer.gradient_clip_algorithm=value",
                         "data.val_size=0"), [clipped])
    assert max(unclipped.max_abs) > 0.001  # the bound is not met by chance
    assert max(clipped.max_abs) <= 0.001 + 1e-9


def test_non_finite_gradients_are_skipped_then_training_stops(monkeypatch):
    cfg = tiny_config("trainer.max_steps=20", "max_nonfinite_steps=3", "data.val_size=0")
    real_backward = torch.Tensor.backward

    def nan_backward(self, *args, **kwargs):
        real_backward(self * float("nan"), *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", nan_backward)
    system = build_system(cfg)
    before = {k: v.clone() for k, v in system.state_dict().items() if v.is_floating_point()}
    trainer = L.Trainer(**cfg.trainer, logger=False, enable_checkpointing=False)
    with pytest.raises(NonFiniteTrainingError, match="3 consecutive steps.*lower learning rate"):
        trainer.fit(system, datamodule=build_datamodule(cfg, system.charset))
    assert system.skipped_steps == 3
    after = system.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if "running" not in k and "num_batches" not in k)


def train_with_callback(cfg, run_dir: Path, callback: L.Callback) -> L.Trainer:
    """``train(cfg, run_dir)`` with ``callback`` added to the Trainer's callbacks."""
    from ocr.train import wiring

    original = L.Trainer.__init__

    @functools.wraps(original)  # the Trainer's signature, which train() checks the config against
    def with_probe(self, *args, callbacks=(), **kwargs):
        original(self, *args, callbacks=[*callbacks, callback], **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(wiring.L.Trainer, "__init__", with_probe)
        return train(cfg, run_dir)


class FirstStep(L.Callback):
    def on_train_start(self, trainer, system) -> None:
        self.step = trainer.global_step
        self.scheduler_step = trainer.lr_scheduler_configs[0].scheduler.last_epoch


def test_resume_continues_step_count_and_schedule(tmp_path):
    schedule = ["optim.scheduler.total_steps=40"]
    first = train(tiny_config("trainer.max_steps=20", *schedule), tmp_path / "a")
    assert first.global_step == 20
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    assert (tmp_path / "a" / "checkpoints" / "best.ckpt").is_file()

    cfg = tiny_config("trainer.max_steps=40", f"ckpt_path={last}", *schedule)
    seen = FirstStep()
    second = train_with_callback(cfg, tmp_path / "a", seen)  # the same folder: one log for the whole run
    assert seen.step == 20 and seen.scheduler_step == 20
    assert second.global_step == 40
    with open(tmp_path / "a" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    steps = [int(row["step"]) for row in rows if row["step"]]
    assert min(steps) < 20 <= max(steps) and max(steps) >= 39  # the first session's rows are kept
    minutes = [(int(row["step"]), float(row["time/minutes"])) for row in rows if row.get("time/minutes")]
    assert {s < 20 for s, _ in minutes} == {True, False}  # validations of both sessions
    assert [m for _, m in minutes] == sorted(m for _, m in minutes)  # the clock carried over
    plot = run_script("benchmarks/plot_training.py", str(tmp_path / "a"), "--out", str(tmp_path / "plot.png"))
    assert plot.returncode == 0 and (tmp_path / "plot.png").stat().st_size > 0, plot.stderr


def test_runs_are_compared_at_equal_steps_and_on_the_mean_of_a_step_range(tmp_path):
    def run(name: str, rows: list[tuple[int, float, float]]) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        lines = ["step,A_3/acc36,B_1/acc36,val/acc36,train/loss", "9,,,,2.0"]  # a training row is skipped
        lines += [f"{step - 1},{a},{b},0.9," for step, a, b in rows]
        (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
        return folder

    old = run("old", [(1000, 0.5, 0.1), (2000, 0.6, 0.2), (3000, 0.7, 0.3)])
    new = run("new", [(2000, 0.7, 0.4), (3000, 0.9, 0.5), (4000, 0.95, 0.6)])
    out = run_script("benchmarks/compare_runs.py", str(old), str(new), "--from", "2000")
    assert out.returncode == 0, out.stderr
    assert "| 2,000 | 60.0 / 20.0 | 70.0 / 40.0 |" in out.stdout and "1,000" not in out.stdout.split("|---|")[1]
    # means over steps 2000-3000; weighted by the words in the set names (3 and 1)
    assert "| mean of 2 (2,000-3,000) | 65.0 / 25.0 (weighted 55.0) | 80.0 / 45.0 (weighted 71.2) |" in out.stdout


def test_a_new_run_never_writes_over_a_folder_holding_one(tmp_path):
    train(tiny_config(), tmp_path)
    last = tmp_path / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    with pytest.raises(ConfigError, match="holds a run already; resume it with ckpt_path="):
        train(tiny_config(), tmp_path)
    assert last.read_bytes() == before


def test_training_from_a_labelled_folder_survives_a_bad_image(tmp_path):
    folder = tmp_path / "words"
    (folder / "images").mkdir(parents=True)
    lines = []
    for i, (word, example) in enumerate(zip(WORDS, eight_words())):
        pixels = ((example.image[0] + 1) * 127.5).clamp(0, 255).byte().numpy()
        from PIL import Image

        Image.fromarray(pixels).save(folder / "images" / f"{i}.png")
        lines.append(f"images/{i}.png\t{word}")
    (folder / "images" / "broken.png").write_text("not an image")
    lines.append("images/broken.png\tbroken")
    (folder / "labels.tsv").write_text("\n".join(lines) + "\n")
    cfg = tiny_config("data=folder", f"data.folder_dirs=[{folder}]", f"data.val_dirs=[{folder}]", "trainer.max_steps=3")
    trainer = train(cfg, tmp_path / "run")
    assert trainer.global_step == 3
    assert "words/acc36" in (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]


def test_a_diverging_loss_stops_training_with_advice(monkeypatch):
    cfg = tiny_config("trainer.max_steps=20", "max_nonfinite_steps=2", "data.val_size=0")
    system = build_system(cfg)
    monkeypatch.setattr(system.loss_fn, "forward", lambda log_probs, batch: log_probs.sum() * float("inf"))
    trainer = L.Trainer(**cfg.trainer, logger=False, enable_checkpointing=False)
    with pytest.raises(NonFiniteTrainingError, match="non-finite loss.*lower learning rate.*clipping"):
        trainer.fit(system, datamodule=build_datamodule(cfg, system.charset))
    assert system.skipped_steps == 2


class BatchTexts(L.Callback):
    """The words of the batch trained on at each step."""

    def __init__(self) -> None:
        self.by_step: dict[int, list[str]] = {}

    def on_train_batch_start(self, trainer, system, batch, batch_idx) -> None:
        self.by_step[trainer.global_step] = batch.texts


class StopAt(L.Callback):
    """Raise ``exception`` when the batch of step ``step`` is about to be trained on."""

    def __init__(self, step: int, exception: BaseException) -> None:
        self.step, self.exception = step, exception

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            raise self.exception


# Ctrl-C saves at the step it stops; after a crash (or a kill) the last periodic save is used
@pytest.mark.parametrize(("stop", "resumed_at"), [(KeyboardInterrupt, 7), (RuntimeError, 5)])
def test_a_run_resumed_mid_epoch_trains_on_the_batches_it_would_have_seen(stop, resumed_at, tmp_path, recwarn):
    run = ["data.synth.epoch_size=96", "checkpoint.every_n_train_steps=5", "trainer.max_steps=10"]  # 12 batches an epoch
    whole = BatchTexts()
    train_with_callback(tiny_config(*run), tmp_path / "whole", whole)
    on_ctrl_c = signal.getsignal(signal.SIGINT)
    with pytest.raises((SystemExit, RuntimeError)):
        train_with_callback(tiny_config(*run), tmp_path / "split", StopAt(7, stop()))
    signal.signal(signal.SIGINT, on_ctrl_c)  # Lightning ignores further Ctrl-C once interrupted
    last = tmp_path / "split" / "checkpoints" / "last.ckpt"
    assert safe_load(last)["global_step"] == resumed_at
    resumed = BatchTexts()
    train_with_callback(tiny_config(*run, f"ckpt_path={last}"), tmp_path / "split", resumed)
    assert resumed.by_step == {step: whole.by_step[step] for step in range(resumed_at, 10)}
    assert not [w for w in recwarn if "not resumable" in str(w.message)]


def test_a_run_moved_to_another_folder_resumes_there_with_one_last_checkpoint(tmp_path):
    # Lightning forgets its last checkpoint's path when the folder changed, and used to add last-v1.ckpt
    train(tiny_config("trainer.max_steps=4"), tmp_path / "a")
    (tmp_path / "a").rename(tmp_path / "b")
    last = tmp_path / "b" / "checkpoints" / "last.ckpt"
    train(tiny_config("trainer.max_steps=8", f"ckpt_path={last}"), tmp_path / "b")
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.ckpt", "last.ckpt"]
    assert safe_load(last)["global_step"] == 8


class BarAtFirstBatch(L.Callback):
    """The training progress bar's total, starting count and description after the first batch."""

    def on_train_batch_end(self, trainer, *args) -> None:
        bar = trainer.progress_bar_callback.train_progress_bar
        self.__dict__.setdefault("seen", (bar.total, bar.initial, bar.desc))


# Lightning skips its epoch-start hook on a resume: the bar had no total ("6/?"), and mid-epoch
# a rate as if the first session's batches had taken no time. 12 batches an epoch; max_steps
# ends the second epoch at 8 batches
@pytest.mark.parametrize(("save_every", "max_steps", "stop", "seen"), [
    (5, 10, 7, (10, 5, "Epoch 0: ")),   # resumed mid-epoch: step 5 of the epoch's 10
    (12, 20, 14, (8, 0, "Epoch 1: ")),  # saved at the epoch's last batch: resumed at the next epoch's start
])
def test_a_resumed_run_shows_the_epochs_total_and_counts_its_rate_from_there(save_every, max_steps, stop, seen,
                                                                             tmp_path):
    run = ["data.synth.epoch_size=96", f"checkpoint.every_n_train_steps={save_every}",
           f"trainer.max_steps={max_steps}", "trainer.enable_progress_bar=true"]
    with pytest.raises(RuntimeError):
        train_with_callback(tiny_config(*run), tmp_path / "a", StopAt(stop, RuntimeError()))
    bar = BarAtFirstBatch()
    train_with_callback(tiny_config(*run, f"ckpt_path={tmp_path / 'a' / 'checkpoints' / 'last.ckpt'}"),
                        tmp_path / "a", bar)
    assert bar.seen == seen


def test_resuming_after_a_crash_keeps_one_best_checkpoint(tmp_path):
    # every validation (each 4 steps) makes a new best; the crash at step 5 leaves the periodic
    # save of step 4, written before step 4's validation wrote best.ckpt
    run = ["checkpoint.monitor=time/minutes", "trainer.max_steps=8"]
    with pytest.raises(RuntimeError):
        train_with_callback(tiny_config(*run), tmp_path / "a", StopAt(5, RuntimeError()))
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    train(tiny_config(*run, f"ckpt_path={last}"), tmp_path / "a")
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.ckpt", "last.ckpt"]  # not best-v1.ckpt
    assert safe_load(last.parent / "best.ckpt")["global_step"] == 8


def test_plotting_a_run_with_no_validation_yet_says_so_in_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("epoch,step,train/loss\n0,49,2.5\n")
    for folder, phrase in ((tmp_path / "run", "no validation yet"), (tmp_path / "nothing", "no such file")):
        plot = run_script("benchmarks/plot_training.py", str(folder), "--out", str(tmp_path / "plot.png"))
        assert plot.returncode == 1 and plot.stderr.startswith(f"error: {folder / 'metrics.csv'}: {phrase}")
        assert plot.stderr.count("\n") == 1


class WeightsAtStart(L.Callback):
    def on_train_start(self, trainer, system) -> None:
        self.weights = {k: v.clone() for k, v in system.state_dict().items()}


def test_a_run_with_weight_averaging_saves_the_average_and_resumes_the_trained_weights(tmp_path):
    run = ["ema_decay=0.5", "checkpoint.every_n_train_steps=5", "trainer.max_steps=10"]
    with pytest.raises(RuntimeError):
        train_with_callback(tiny_config(*run), tmp_path / "a", StopAt(7, RuntimeError()))
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    saved = safe_load(last)
    averaged, trained = saved["state_dict"], saved["current_model_state"]
    assert averaged.keys() == trained.keys()
    assert any(not torch.equal(averaged[k], trained[k]) for k in averaged)  # what a reader loads is the average
    start = WeightsAtStart()
    train_with_callback(tiny_config(*run, f"ckpt_path={last}"), tmp_path / "a", start)
    assert all(torch.equal(start.weights[k], trained[k]) for k in trained)  # training goes on from its own weights
    assert safe_load(last)["global_step"] == 10


def test_distillation_loss_is_zero_for_the_teachers_own_readings_and_ignores_padding():
    from ocr.train.distillation import distillation_loss

    torch.manual_seed(0)
    teacher = torch.log_softmax(torch.randn(9, 2, 5), -1)
    widths, lengths = torch.tensor([32, 16]), torch.tensor([3, 2])  # 9 and 5 valid steps
    assert distillation_loss(teacher, teacher, widths, lengths).abs() < 1e-6
    student = torch.log_softmax(torch.randn(9, 2, 5), -1)
    loss = distillation_loss(student, teacher, widths, lengths)
    assert loss > 0
    padded = student.clone()
    padded[5:, 1] = torch.log_softmax(torch.randn(4, 5), -1)  # steps of the padding of word 2 only
    assert torch.allclose(distillation_loss(padded, teacher, widths, lengths), loss)


def test_several_teachers_teach_their_renormalised_mean():
    from ocr.train.distillation import averaged_log_probs

    torch.manual_seed(0)
    a, b = torch.log_softmax(torch.randn(2, 9, 2, 5), -1)
    assert torch.allclose(averaged_log_probs([a, a]), a, atol=1e-6)
    mean = averaged_log_probs([a, b])
    assert torch.allclose(mean.exp().sum(-1), torch.ones(9, 2))
    geometric = (a.exp() * b.exp()).sqrt()
    assert torch.allclose(mean.exp(), geometric / geometric.sum(-1, keepdim=True), atol=1e-6)


@pytest.mark.parametrize("teachers", [1, 2])
def test_a_run_distilled_from_teachers_logs_the_term_and_saves_no_teacher_weights(tiny_checkpoint, tmp_path, teachers):
    named = tiny_checkpoint if teachers == 1 else f"[{tiny_checkpoint},{tiny_checkpoint}]"
    train(tiny_config(f"distill.teacher={named}", "distill.temperature=2"), tmp_path / "a")
    with open(tmp_path / "a" / "metrics.csv") as f:
        rows = [row for row in csv.DictReader(f) if row.get("train/distill")]
    assert len(rows) == 4 and all(float(row["train/distill"]) > 0 for row in rows)
    saved = safe_load(tmp_path / "a" / "checkpoints" / "last.ckpt")["state_dict"]
    assert saved.keys() == safe_load(tiny_checkpoint)["state_dict"].keys()


def test_an_empty_list_of_teachers_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="distill.teacher: name at least one checkpoint"):
        train(tiny_config("distill.teacher=[]"), tmp_path / "a")


def test_a_teacher_with_another_charset_is_refused_naming_it(tiny_checkpoint, tmp_path):
    with pytest.raises(ConfigError, match=f"distill.teacher={tiny_checkpoint}: its charset"):
        train(tiny_config("charset=lower36", f"distill.teacher={tiny_checkpoint}"), tmp_path / "a")


@pytest.mark.parametrize("charset", ["lower36", "printable94"])
def test_a_model_can_start_out_reading_blank_with_a_chosen_probability(charset):
    images = torch.rand(4, 1, 32, 96)
    default = build_system(tiny_config(f"charset={charset}")).model
    started = build_system(tiny_config(f"charset={charset}", "model.initial_blank_probability=0.8")).model
    fresh = build_system(tiny_config(f"charset={charset}", "model.initial_blank_probability=null")).model
    with torch.no_grad():
        blank = started(images)[..., 0].exp()
        assert 0.7 < blank.mean() < 0.9 and blank.min() > 0.5
        assert 0.5 < default(images)[..., 0].exp().mean() < 0.7  # the default start: 0.6
        assert fresh(images)[..., 0].exp().mean() < 0.1  # PyTorch's own init: the blank is one class of many


@pytest.mark.parametrize(("value", "why"), [
    ("1.0", "a starting probability must be a number between 0 and 1, got 1.0"),
    ("abc", "expected a number, got 'abc'"),  # the default's type, as for every key
])
def test_a_starting_blank_probability_outside_0_to_1_is_one_line_naming_the_key(value, why, tmp_path):
    result = run_script("train.py", f"hydra.run.dir={tmp_path / 'run'}", f"model.initial_blank_probability={value}",
                        *TINY)
    assert result.returncode == 1 and not (tmp_path / "run").exists()
    assert result.stderr.strip().splitlines() == [f"error: model.initial_blank_probability: {why}"]
