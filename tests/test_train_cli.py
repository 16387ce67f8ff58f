"""train.py from the command line: run folders, sweeps, DDP."""
from pathlib import Path

from tests.conftest import TINY, run_script


def run_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("config.yaml") if p.parent.name != ".hydra")


def test_train_cli_writes_a_complete_run_folder(tmp_path):
    result = run_script("train.py", *TINY, "rnn=gru", "loss=ce", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "run"
    assert "cell: gru" in (run / "config.yaml").read_text()
    assert "${" not in (run / "config.yaml").read_text()  # resolved
    assert (run / "checkpoints" / "best.ckpt").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert "train/loss" in header and "val/acc" in header


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
