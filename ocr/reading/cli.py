"""The predict and evaluate commands' arguments (``ocr predict``, ``python predict.py``, and
the same for evaluate) and the model loading they share."""
from __future__ import annotations

import argparse

from ocr.assets import DEFAULT_LM
from ocr.reading.backends import BACKENDS
from ocr.reading.exits import or_exit
from ocr.reading.recognizer import PRECISIONS, Recognizer
from ocr.text.decoders import DECODERS


class ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows each option's default, where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None else super()._get_help_string(action)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--checkpoint, --batch-size and the decoder options."""
    parser.add_argument("--checkpoint", help="model checkpoint (default: the shipped model)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    parser.add_argument("--decoder", choices=DECODERS, default="lm",
                        help="lm: best path, uncertain words searched again with an English letter model; "
                             "greedy: best path alone (codes, non-English text); beam: CTC prefix beam search; "
                             "lexicon: the best word of --lexicon")
    parser.add_argument("--beam-width", type=int, default=10, help="beam width for --decoder lm and beam")
    parser.add_argument("--lexicon", help="word list (one per line) for --decoder lexicon")
    parser.add_argument("--language-model", default=str(DEFAULT_LM),
                        help="letter model for --decoder lm (python -m ocr.text.build_language_model; the shipped one is English)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="PyTorch or onnxruntime (a .onnx checkpoint implies onnx); auto: the checkpoint's "
                             "int8 export beside it for this CPU (X.int8.onnx with VNNI, X.int8-7bit.onnx on other "
                             "x86 CPUs with AVX2; both shipped for the default model) where onnxruntime is "
                             "installed, else PyTorch")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="fp32; bf16 autocast (torch); int8: torch dynamic quantisation of RNN/linear, or onnx "
                             "int8 convolutions, linear and LSTM (ocr/reading/quantization.py); auto: the int8 export "
                             "where --backend auto finds one for this CPU, else bf16 where the CPU has native "
                             "bf16, else fp32")
    parser.add_argument("--second-look", action=argparse.BooleanOptionalAction, default=True,
                        help="read words read unsure from crowded steps again, stretched wider (ocr/reading/second_look.py)")
    parser.add_argument("--unbend", action=argparse.BooleanOptionalAction, default=True,
                        help="read words read unsure that may run along an arc again, laid straight (ocr/reading/unbend.py)")
    parser.add_argument("--second-opinion", default="auto", metavar="CHECKPOINT",
                        help="a second model that reads the words read unsure again, the two networks' readings "
                             "averaged (ocr/reading/second_opinion.py): a checkpoint of the same charset, none, or "
                             "auto (the shipped one with the shipped model, else none)")


def load_recognizer(args: argparse.Namespace) -> Recognizer:
    """The recognizer the arguments ask for; a bad checkpoint or lexicon exits with code 2."""
    return or_exit(lambda: Recognizer.load(
        args.checkpoint, batch_size=args.batch_size, decoder=args.decoder, beam_width=args.beam_width,
        lexicon=args.lexicon, backend=args.backend, precision=args.precision, language_model=args.language_model,
        second_look=args.second_look, second_opinion=args.second_opinion, unbend=args.unbend))


def predict_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Read the word in each image (one line per image).",
                                     formatter_class=ShowDefaults)
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("--format", choices=("text", "json", "tsv"), default="text", help="output format")
    add_model_arguments(parser)
    return parser


def evaluate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Score a model on labelled folders (images and labels.tsv).",
                                     formatter_class=ShowDefaults)
    parser.add_argument("dirs", nargs="+", help="folders holding images/ and labels.tsv")
    parser.add_argument("--json", dest="json_path", help="also write the numbers to this JSON file")
    parser.add_argument("--errors", help="write the misread words (acc36) to this TSV file, least confident first")
    parser.add_argument("--holdout", type=float, metavar="FRACTION",
                        help="score only the part of each folder that training with data.holdout=FRACTION kept out")
    parser.add_argument("--holdout-seed", type=int, default=0, help="the data.holdout_seed of that training run")
    add_model_arguments(parser)
    return parser

