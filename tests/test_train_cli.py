"""train.py from the command line: run folders, sweeps, DDP."""
from pathlib import Path

from tests.conftest import TINY, modules_loaded_by, run_script


def run_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("config.yaml") if p.parent.name != ".hydra")


def test_train_cli_writes_a_complete_run_folder(tmp_path):
    result = run_script("train.py", *TINY, "rnn=gru", "loss=ce", "trainer.precision=auto", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "run"
    assert "cell: gru" in (run / "config.yaml").read_text()
    from ocr.train.wiring import resolved_precision
    assert f"precision: {resolved_precision('auto')}" in (run / "config.yaml").read_text()  # what it ran in
    assert "${" not in (run / "config.yaml").read_text()  # resolved
    assert (run / "checkpoints" / "best.ckpt").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert "train/loss" in header and "val/acc" in header
    printed = result.stdout + result.stderr
    assert "Tip:" not in printed and "LeafSpec" not in printed  # Lightning's advert and a torch deprecation


def test_multirun_sweeps_rnn_cells(tmp_path):
    result = run_script("train.py", "-m", *TINY, "trainer.max_steps=2", "rnn=rnn,lstm,gru",
                        f"hydra.sweep.dir={tmp_path}/sweep")
    assert result.returncode == 0, result.stderr[-2000:]
    runs = run_folders(tmp_path / "sweep")
    cells = sorted(next(l for l in (r / "config.yaml").read_text().splitlines() if "cell:" in l).split()[-1]
                   for r in runs)
    assert cells == ["gru", "lstm", "rnn"]
    assert all((r / "checkpoints" / "last.ckpt").is_file() for r in runs)


def test_ddp_trains_with_two_cpu_processes(tmp_path):
    result = run_script("train.py", *TINY, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
                        f"hydra.run.dir={tmp_path}/ddp", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stderr + result.stdout
    assert "distributed_backend=gloo" in output and "Starting with 2 processes" in output
    assert (tmp_path / "ddp" / "checkpoints" / "last.ckpt").is_file()


BAD_OVERRIDES = {
    "+trainer.max_stpes=10": "error: trainer.max_stpes: not an argument of lightning.Trainer; did you mean "
                             "trainer.max_steps?",
    "trainer.max_steps=abc": "error: trainer.max_steps: expected a whole number, got 'abc'",
    "data.batch_size=1.5": "error: data.batch_size: expected a whole number, got 1.5",
    "data.holdout=x": "error: data.holdout: expected a number, got 'x'",
}


def test_a_bad_override_is_one_line_naming_the_key_and_leaves_no_folder(tmp_path):
    for override, message in BAD_OVERRIDES.items():
        result = run_script("train.py", *TINY, override, f"hydra.run.dir={tmp_path}/runs/day/run")
        assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == message, result.stderr[-1500:]
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs" / "day").exists()  # the failed start's folder (and its date folder) removed


def test_a_value_of_the_wrong_type_is_refused_before_lightning_loads(tmp_path):
    # a second or so for the typo's answer, not the five that importing Lightning and PyTorch take
    loaded = modules_loaded_by("train.py", "trainer.max_steps=abc", f"hydra.run.dir={tmp_path}/run")
    assert "hydra" in loaded and "lightning" not in loaded and "torch" not in loaded
    assert not (tmp_path / "run").exists()


def test_a_new_run_in_another_runs_folder_is_refused_before_hydra_writes_there(tmp_path):
    run = tmp_path / "run"
    assert run_script("train.py", *TINY, "trainer.max_steps=1", f"hydra.run.dir={run}").returncode == 0
    saved = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = run_script("train.py", *TINY, f"hydra.run.dir={run}")
    assert result.returncode == 1 and result.stderr.startswith(f"error: {run}: holds a run already")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == saved  # .hydra/*.yaml included


def test_a_labels_file_that_is_not_utf8_is_named_in_one_line(tmp_path):
    from tests.conftest import SAMPLES

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "street.png").write_bytes((SAMPLES / "street.png").read_bytes())
    (photos / "labels.tsv").write_bytes("street.png\tStra\u00dfe\n".encode("latin-1"))
    result = run_script("train.py", *TINY, "data.sources.synth=0.5", "+data.sources.folder=0.5",
                        f"data.folder_dirs=[{photos}]", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]  # Lightning's info lines aside
    assert len(errors) == 1 and errors[0].startswith(f"error: {photos / 'labels.tsv'}: not UTF-8 text"), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # a failed start leaves no run folder


def test_help_describes_the_command_and_lists_the_groups_without_private_configs():
    result = run_script("train.py", "--help")
    assert result.returncode == 0, result.stderr
    head, _, config = result.stdout.partition("The config these choices compose")
    assert head.startswith("train.py: train a CRNN word recogniser")
    assert "  rnn: gru, lstm, rnn\n" in head and "  experiment: cells, clipping," in head
    assert "_common" not in head and "_bptt_budget" not in head  # files other configs build on
    assert "trainer:" in config and "max_steps:" in config


def test_auto_precision_is_bf16_only_where_the_cpu_computes_it_natively(monkeypatch):
    import ocr.train.wiring
    from ocr.train.wiring import resolved_precision

    monkeypatch.setattr(ocr.train.wiring, "fastest_precision", lambda: "bf16")  # AVX-512
    assert resolved_precision("auto") == "bf16-mixed"
    monkeypatch.setattr(ocr.train.wiring, "fastest_precision", lambda: "fp32")  # AVX2: bf16 emulated, 9x slower
    assert resolved_precision("auto") == "32-true"
    assert resolved_precision("bf16-mixed") == "bf16-mixed" and resolved_precision(32) == 32  # asked for: kept


def test_bf16_emulated_by_onednn_on_an_x86_cpu_without_bf16_instructions_is_not_chosen(monkeypatch):
    import torch

    import ocr.reading.torch_backend as backend

    monkeypatch.setattr(backend, "_onednn_runs_bf16", lambda: True)
    monkeypatch.setattr(backend.platform, "machine", lambda: "x86_64")
    for avx512_bf16, amx, expected in [(False, False, "fp32"), (True, False, "bf16"), (False, True, "bf16")]:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
        assert backend.fastest_precision() == expected
    monkeypatch.setattr(backend.platform, "machine", lambda: "aarch64")  # oneDNN's own check decides there
    assert backend.fastest_precision() == "bf16"
    monkeypatch.setattr(backend, "_onednn_runs_bf16", lambda: False)
    assert backend.fastest_precision() == "fp32"
