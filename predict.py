"""Read the word in each image: python predict.py IMG|DIR|GLOB [...] [--checkpoint X.ckpt]."""
import argparse
import json
import sys

from tqdm import tqdm

from ocr import ImageLoadError
from ocr.reading.cli import add_model_arguments, load_recognizer
from ocr.reading.inputs import expand_inputs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("--format", choices=("text", "json", "tsv"), default="text", help="output format")
    add_model_arguments(parser)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
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
            continue
        if args.format == "json":
            rows.append({"path": str(path), "text": result.text, "confidence": round(result.confidence, 4)})
        elif args.format == "tsv":
            print(f"{path}\t{result.text}\t{result.confidence:.4f}")
        else:
            print(f"{path}  {result.text}  {result.confidence:.3f}")
    progress.close()
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
