"""The ``ocr`` command (``[project.scripts]``): one entry point for every job.

    ocr predict IMG ...     ocr evaluate DIR ...     ocr train key=value ...
    ocr export ...          ocr slim SRC DST         ocr prerender ...       ocr serve ...
    ocr --version

Each subcommand is the module that ``python X.py`` / ``python -m ...`` runs, imported only
when asked for, so ``ocr predict`` never loads Lightning or Hydra's training stack.
"""
from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

# name -> (module, function, the install extra it needs beyond reading, what it does)
COMMANDS = {
    "predict": ("ocr.reading.commands", "predict_main", None, "read the word in images (= python predict.py)"),
    "evaluate": ("ocr.reading.commands", "evaluate_main", None,
                 "score a model on labelled folders (= python evaluate.py)"),
    "train": ("ocr.train.cli", "main", "train", "train a CRNN with Hydra overrides (= python train.py)"),
    "export": ("ocr.reading.export", "main", "train", "export a checkpoint to ONNX, int8 ONNX or TorchScript"),
    "slim": ("ocr.reading.slim", "main", None, "write an inference-only copy of a checkpoint"),
    "prerender": ("ocr.data.prerender", "main", "train", "render synthetic words into an LMDB folder"),
    "serve": ("ocr.service.cli", "main", "serve", "serve the model over HTTP, with a web page"),
}


def usage() -> str:
    lines = ["usage: ocr COMMAND [ARGS ...]   (ocr COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<10} {about}" + (f" (needs the [{extra}] extra)" if extra else "")
              for name, (_, _, extra, about) in COMMANDS.items()]
    lines += ["", "  --version  print the version and exit"]
    return "\n".join(lines)


def package_version() -> str:
    try:
        return version("ocr")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    """Run ``ocr COMMAND ARGS``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"ocr {package_version()}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: {name}: not an ocr command (one of {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    module, function, extra, _ = COMMANDS[name]
    sys.argv = [f"ocr {name}", *rest]  # argparse and Hydra read sys.argv; --help shows "ocr NAME"
    try:
        command = getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as err:  # a reading-only install, without the command's extra
        print(f"error: ocr {name}: needs {err.name}, which this install lacks: pip install 'ocr[{extra or 'train'}]'",
              file=sys.stderr)
        return 2
    return command() or 0


if __name__ == "__main__":
    sys.exit(main())
