"""A built wheel works anywhere: installed into a fresh venv, used from outside the checkout."""
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import tomllib

from tests.conftest import ROOT, SAMPLES, TINY


def test_pyproject_lists_every_package_of_the_code():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    code = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ocr").rglob("__init__.py")}
    assert code == {name for name in listed if not name.startswith("ocr._shipped")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh venv holding only a wheel built from this checkout; its
    dependencies are this interpreter's (a ``.pth`` line, so nothing is downloaded)."""
    pytest.importorskip("setuptools")
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT),
                    "-w", str(tmp / "dist")], check=True, capture_output=True, cwd=tmp)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next((tmp / "dist").glob("ocr-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
                    str(wheel)], check=True, capture_output=True)
    return venv / "bin"


def run_ocr(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "ocr"), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_the_installed_ocr_command_reads_scores_and_trains_outside_the_checkout(installed, tmp_path):
    where = subprocess.run([installed / "python", "-c", "import ocr.assets as a; print(a.DEFAULT_MODEL)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(installed.parent)) and "_shipped" in where  # the wheel's copy, not the checkout's
    assert run_ocr(installed, "--version", cwd=tmp_path).stdout.startswith("ocr ")
    read = run_ocr(installed, "predict", str(SAMPLES / "simply.jpg"), cwd=tmp_path)
    assert read.returncode == 0 and read.stdout.split()[1] == "simply", read.stderr
    scored = run_ocr(installed, "evaluate", str(SAMPLES), cwd=tmp_path)
    assert scored.returncode == 0 and "| samples | 6 |" in scored.stdout, scored.stderr
    trained = run_ocr(installed, "train", *TINY, "trainer.max_steps=2", "hydra.run.dir=run", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file() and (tmp_path / "run" / "train.log").is_file()


def test_an_unknown_command_is_named_in_one_line(installed, tmp_path):
    result = run_ocr(installed, "reed", "x.jpg", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("error: reed: not an ocr command")


TRAINING_ONLY = ("lightning", "hydra", "omegaconf", "matplotlib", "wordfreq", "lmdb", "fontTools", "fontpkg", "onnx")
WITHOUT_TRAINING_PACKAGES = f"""
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAINING_ONLY!r} or name.startswith("fontpkg"):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Missing())
from ocr.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["predict", "evaluate", "train"])
def test_reading_needs_none_of_the_training_packages(command, tmp_path):
    """What a reading-only install (``pip install ocr``, no ``[train]`` extra) can do."""
    args = {"predict": [str(SAMPLES / "simply.jpg")], "evaluate": [str(SAMPLES)], "train": ["trainer.max_steps=1"]}
    result = subprocess.run([sys.executable, "-c", WITHOUT_TRAINING_PACKAGES, command, *args[command]],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    if command == "train":
        assert result.returncode == 2 and result.stderr.startswith("error: ocr train: needs ")
        assert "pip install 'ocr[train]'" in result.stderr and result.stderr.count("\n") == 1
    else:
        assert result.returncode == 0, result.stderr
        assert ("simply" if command == "predict" else "| samples | 6 |") in result.stdout


@pytest.mark.parametrize("command", ["predict", "evaluate", "train", "export", "slim", "prerender", "serve"])
def test_every_ocr_command_has_help(command, tmp_path):
    result = subprocess.run([sys.executable, "-m", "ocr.cli", command, "--help"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0 and result.stdout.strip(), result.stderr[-2000:]


def test_the_python_api_reads_with_the_command_lines_defaults():
    import inspect

    from ocr import Recognizer
    from ocr.reading.cli import predict_parser

    cli = predict_parser().parse_args(["x.jpg"])
    api = inspect.signature(Recognizer.load).parameters
    for name in ("backend", "precision", "decoder", "batch_size", "beam_width"):
        assert api[name].default == getattr(cli, name), name
