"""What predict.py and evaluate.py do once their arguments are parsed."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tqdm import tqdm

from ocr.data.transforms import ImageLoadError
from ocr.reading.cli import evaluate_parser, load_recognizer, predict_parser
from ocr.reading.evaluation import evaluate_folders, markdown_table, write_misreadings
from ocr.reading.inputs import expand_inputs

EMPTY = '""'  # how an empty reading is shown in text output


def predict(args: argparse.Namespace) -> int:
    """predict.py: read every input, print one line (or row) per image; 2 if any failed."""
    paths, errors = expand_inputs(args.inputs)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    recognizer = load_recognizer(args)
    failed = bool(errors)
    rows = []
    progress = tqdm(total=len(paths), unit="img", disable=len(paths) < 256 or not sys.stderr.isatty())
    if args.format == "tsv":
        print("path\ttext\tconfidence")
    for path, result in recognizer.read_each(paths):
        progress.update()
        if isinstance(result, ImageLoadError):
            failed = True
            progress.write(f"error: {result}", file=sys.stderr)
            if args.format == "json":
                rows.append({"path": str(path), "error": str(result)})
            continue
        if args.format == "json":
            rows.append({"path": str(path), "text": result.text, "confidence": round(result.confidence, 4),
                         "char_confidences": [round(c, 4) for c in result.char_confidences],
                         "steps": [list(span) for span in result.steps]})
        elif args.format == "tsv":
            print(f"{_field(str(path))}\t{_field(result.text)}\t{result.confidence:.4f}")
        else:
            print(f"{_field(str(path))}  {_field(result.text) or EMPTY}  {result.confidence:.3f}")
    progress.close()
    if args.format == "json":
        lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
        print(f"[\n{lines}\n]" if rows else "[]")  # an image a line
    return 2 if failed else 0


def _field(text: str) -> str:
    """``text`` on one line and in one TSV field: backslash, TAB and line breaks escaped."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def evaluate(args: argparse.Namespace) -> int:
    """evaluate.py: score each labelled folder, print the table, write --json / --errors; 2
    if any folder could not be scored (the others are)."""
    files = [d for d in args.dirs if Path(d).is_file()]  # e.g. a README matched by sets/*
    for d in files:
        print(f"note: {d}: a file, not a folder; skipped", file=sys.stderr)
    folders = [d for d in args.dirs if d not in files]
    if not folders:
        print("error: no folder to score", file=sys.stderr)
        return 2
    for out in (args.json_path, args.errors):  # before any reading: a bad path costs nothing
        if out and (problem := _unwritable(Path(out))):
            print(f"error: {out}: {problem}", file=sys.stderr)
            return 2
    report = evaluate_folders(load_recognizer(args), folders, args.holdout, args.holdout_seed)
    for line in report.errors:
        print(f"error: {line}", file=sys.stderr)
    if not report.sets:
        return 2
    print(markdown_table({**report.sets, "total": report.total}))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report.as_json(), indent=2) + "\n")
    if args.errors:
        write_misreadings(report.misreadings, args.errors)
    return 2 if report.errors else 0


def _unwritable(path: Path) -> str | None:
    """Why an output file cannot be written at ``path`` (its folder is made if missing), or None."""
    if path.is_dir():
        return "is a folder"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot make its folder ({err.strerror})"
    return None if os.access(path.parent, os.W_OK) else "its folder is not writable"


def predict_main(argv: list[str] | None = None) -> int:
    """``ocr predict IMG ...``: the exit code."""
    return predict(predict_parser().parse_args(sys.argv[1:] if argv is None else argv))


def evaluate_main(argv: list[str] | None = None) -> int:
    """``ocr evaluate DIR ...``: the exit code."""
    return evaluate(evaluate_parser().parse_args(sys.argv[1:] if argv is None else argv))
