"""Write an inference-only copy of a training checkpoint: ``python -m ocr.reading.slim SRC DST``;
with several SRC, of their averaged weights (a model soup of fine-tunes from one start)."""
from __future__ import annotations

import argparse

from ocr.reading.exits import or_exit


def main() -> None:
    parser = argparse.ArgumentParser(description="Write an inference-only copy of a checkpoint (fp16 weights); "
                                                 "given several, of their averaged weights (a model soup).")
    parser.add_argument("src", nargs="+", help="training checkpoints (.ckpt) of one model")
    parser.add_argument("dst", help="where to write the slim checkpoint")
    parser.add_argument("--fp32", action="store_true", help="keep float32 weights")
    args = parser.parse_args()
    from ocr.reading.checkpoint import slim_checkpoint  # PyTorch: after the arguments, so --help answers at once

    out = or_exit(lambda: slim_checkpoint(args.src, args.dst, half=not args.fp32))
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
