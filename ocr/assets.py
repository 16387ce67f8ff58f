"""Where the files the code ships with are: models, the letter model, photos, configs.

In a checkout (or an editable install) they are the repository's ``data/`` and ``configs/``;
an installed wheel carries the same folders as package data, ``ocr/_shipped/data`` and
``ocr/_shipped/configs`` (pyproject.toml maps them there), found with ``importlib.resources``.

A leaf module: it imports nothing from ``ocr``, so any package may use it.
"""
from importlib import resources
from pathlib import Path

DEFAULT_MODEL_NAME = "default"  # init_from=default: the shipped default model


def _shipped_root() -> Path:
    """``ocr/_shipped`` in an installed wheel, else the checkout's root."""
    packaged = Path(str(resources.files("ocr"))) / "_shipped"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1]


ROOT = _shipped_root()
DEFAULT_MODEL = ROOT / "data" / "models" / "default.ckpt"
DEFAULT_SECOND_OPINION = ROOT / "data" / "models" / "second_opinion.ckpt"  # read with the default model
DEFAULT_LM = ROOT / "data" / "models" / "english.lm.npz"
BACKGROUNDS = ROOT / "data" / "backgrounds"
SAMPLES = ROOT / "data" / "samples"
WORD_BLOCKLIST = ROOT / "data" / "words" / "blocklist.txt"  # never rendered as training text
CONFIGS = ROOT / "configs"


def checkpoint_path(name: str | Path) -> Path:
    """``name`` as a path, ``default`` being the shipped default model."""
    return DEFAULT_MODEL if str(name) == DEFAULT_MODEL_NAME else Path(name)
