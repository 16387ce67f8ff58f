"""Score a model on labelled folders: python evaluate.py DIR [DIR ...] [--checkpoint X.ckpt] [--json FILE] [--errors FILE]."""
import argparse
import json
import sys
from pathlib import Path

from ocr.reading.cli import add_model_arguments, load_recognizer
from ocr.reading.evaluation import evaluate_folders, markdown_table, write_misreadings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dirs", nargs="+", help="folders holding images/ and labels.tsv")
    parser.add_argument("--json", dest="json_path", help="also write the numbers to this JSON file")
    parser.add_argument("--errors", help="write the misread words (acc36) to this TSV file, least confident first")
    parser.add_argument("--holdout", type=float, metavar="FRACTION",
                        help="score only the part of each folder that training with data.holdout=FRACTION kept out")
    parser.add_argument("--holdout-seed", type=int, default=0, help="the data.holdout_seed of that training run")
    add_model_arguments(parser)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    files = [d for d in args.dirs if Path(d).is_file()]  # e.g. a README matched by sets/*
    for d in files:
        print(f"note: {d}: a file, not a folder; skipped", file=sys.stderr)
    folders = [d for d in args.dirs if d not in files]
    missing = [d for d in folders if not (Path(d) / "labels.tsv").is_file()]
    for d in missing:
        print(f"error: {d}: not a folder with labels.tsv", file=sys.stderr)
    if missing or not folders:
        return 2
    report = evaluate_folders(load_recognizer(args), folders, args.holdout, args.holdout_seed)
    print(markdown_table({**report.sets, "total": report.total}))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report.as_json(), indent=2) + "\n")
    if args.errors:
        write_misreadings(report.misreadings, args.errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
