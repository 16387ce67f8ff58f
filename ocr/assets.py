"""Where the files the code ships with are: models, the letter model, photos, configs.

A leaf module: it imports nothing from ``ocr``, so any package may use it.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "data" / "models" / "default.ckpt"
DEFAULT_LM = ROOT / "data" / "models" / "english.lm.json.gz"
BACKGROUNDS = ROOT / "data" / "backgrounds"
CONFIGS = ROOT / "configs"
