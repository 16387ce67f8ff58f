"""Cut a cheaper network from a trained one, to fine-tune back:
``python -m ocr.train.narrow SRC DST --channels 32 64 96 96 160 160 256 --stem strided``.

DST holds SRC's weights narrowed as :mod:`ocr.models.narrowing` says, with the new shape in
its config; it reads worse than SRC until fine-tuned (``experiment=finetune_narrowed``)."""
from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from pathlib import Path

from ocr.assets import checkpoint_path
from ocr.models import build_model
from ocr.models.backbone import STEMS
from ocr.models.narrowing import conv_channels, copy_narrowed
from ocr.reading.checkpoint import MODEL_PREFIX, atomic_save, load_model
from ocr.reading.exits import or_exit


def narrow_checkpoint(src: str | Path, dst: str | Path, channels: Sequence[int] | None = None,
                      stem: str | None = None) -> dict:
    """Write to ``dst`` the model of checkpoint ``src`` (``default``: the shipped model) with the
    convolutions' ``channels`` and the ``stem`` given (each kept where None); returns the
    backbone settings written."""
    loaded = load_model(checkpoint_path(src))
    hparams = copy.deepcopy(loaded.hparams)
    backbone = hparams["model"].setdefault("backbone", {})
    backbone["channels"] = list(channels) if channels is not None else conv_channels(loaded.model)
    if stem is not None:
        backbone["stem"] = stem
    narrowed = build_model(loaded.charset.num_classes, hparams["model"], hparams["rnn"])
    copy_narrowed(loaded.model, narrowed)
    state = {MODEL_PREFIX + key: value for key, value in narrowed.state_dict().items()}
    atomic_save({"state_dict": state, "hyper_parameters": hparams, "global_step": None}, dst)
    return backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="a trained checkpoint, or 'default' (the shipped model)")
    parser.add_argument("dst", help="where to write the narrowed checkpoint")
    parser.add_argument("--channels", type=int, nargs=7, help="the seven convolutions' channels (default: kept)")
    parser.add_argument("--stem", choices=STEMS, help="the first layer (default: kept; pooled can become strided)")
    args = parser.parse_args()
    backbone = or_exit(lambda: narrow_checkpoint(args.src, args.dst, args.channels, args.stem))
    print(f"{args.dst}: fine-tune it, taught by {args.src}:\n  python train.py experiment=finetune_narrowed init_from={args.dst} "
          f"model.backbone.channels=[{','.join(map(str, backbone['channels']))}] "
          f"model.backbone.stem={backbone.get('stem', 'pooled')} distill.teacher={args.src}")


if __name__ == "__main__":
    main()
