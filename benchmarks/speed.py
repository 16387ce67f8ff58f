"""Reading speed on this machine, per inference setting, with the accuracy each keeps.

    python benchmarks/speed.py [--checkpoint X.ckpt] [--sets ../shared/data/benchmarks/*] [--only onnxruntime]

One Markdown table: batch-1 latency (median ms per word, image to text), batch-64
throughput (words/s), acc36 over the benchmark folders, for PyTorch fp32 (NCHW and
channels_last), bf16 autocast, int8 dynamic quantisation, torch.compile and onnxruntime
(fp32 and int8 static quantisation);
plus the model's GFLOP per 32x128 word, the fraction of the CPU's peak (``--peak-gflops``,
470 measured on the 2-core dev machine) that the best batch-64 setting reaches, and the
time from ``python predict.py`` start to its answer.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from wordfreq import top_n_list

from ocr import Recognizer
from ocr.evaluation import evaluate_folder
from ocr.metrics import WordScores

ROOT = Path(__file__).resolve().parents[1]


def model_gflops(model: torch.nn.Module, width: int = 128) -> float:
    """Forward GFLOP (2 per multiply-add) for one gray 32 x ``width`` image."""
    flops = 0.0

    def conv_hook(module, inputs, output):
        nonlocal flops
        kh, kw = module.kernel_size
        flops += 2 * output.numel() * module.in_channels // module.groups * kh * kw

    def linear_hook(module, inputs, output):
        nonlocal flops
        flops += 2 * output.numel() * module.in_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    hooks += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        model(torch.zeros(1, 1, 32, width))
    for h in hooks:
        h.remove()
    rnn = model.sequence.rnn
    steps = width // 4 + 1
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}.get(type(rnn).__name__, 4)
    dirs = 2 if rnn.bidirectional else 1
    for layer in range(rnn.num_layers):
        inputs = getattr(rnn, f"weight_ih_l{layer}").shape[1]
        flops += dirs * steps * 2 * gates * rnn.hidden_size * (inputs + rnn.hidden_size)
    return flops / 1e9


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (and compilation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def channels_first(checkpoint: str | None) -> Recognizer:
    """The PyTorch fp32 model with its convolutions in NCHW instead of channels_last."""
    rec = Recognizer.load(checkpoint)
    rec.model.backbone.memory_format = torch.contiguous_format
    rec.model.backbone.to(memory_format=torch.contiguous_format)
    return rec


def compiled(checkpoint: str | None) -> Recognizer:
    """The PyTorch fp32 model under torch.compile (dynamic shapes: any batch and width)."""
    rec = Recognizer.load(checkpoint)
    rec.model = torch.compile(rec.model, dynamic=True)
    return rec


def settings(checkpoint: str | None) -> dict[str, Callable[[], Recognizer]]:
    """Every inference setting worth comparing (all PyTorch ones with batch norm folded),
    each loaded only when asked for."""
    return {
        "PyTorch fp32, NCHW": lambda: channels_first(checkpoint),
        "PyTorch fp32, channels_last": lambda: Recognizer.load(checkpoint),
        "PyTorch bf16 autocast": lambda: Recognizer.load(checkpoint, precision="bf16"),
        "PyTorch int8 dynamic (RNN, linear)": lambda: Recognizer.load(checkpoint, precision="int8"),
        "torch.compile fp32": lambda: compiled(checkpoint),
        "onnxruntime fp32": lambda: Recognizer.load(checkpoint, backend="onnx"),
        "onnxruntime int8 (static convolutions, dynamic LSTM)": lambda: Recognizer.load(
            checkpoint, backend="onnx", precision="int8"),
        "PyTorch fp32, beam search (width 10)": lambda: Recognizer.load(checkpoint, decoder="beam"),
        "PyTorch fp32, lexicon of 50k wordfreq words": lambda: Recognizer.load(
            checkpoint, decoder="lexicon", lexicon=top_n_list("en", 50000)),
    }


def time_to_first_prediction(repeats: int = 3) -> float:
    """Median wall seconds of ``python predict.py`` on one sample, from process start to exit."""
    command = [sys.executable, str(ROOT / "predict.py"), str(ROOT / "data" / "samples" / "simply.jpg")]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped model")
    parser.add_argument("--sets", nargs="*", default=sorted(str(p) for p in (ROOT.parent / "shared/data/benchmarks").glob("*_*")))
    parser.add_argument("--peak-gflops", type=float, default=470.0)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--only", nargs="*", metavar="TEXT",
                        help="only the settings whose name contains one of these (e.g. onnxruntime)")
    args = parser.parse_args()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(ROOT / ".cache" / "inductor"))
    word = Image.open(ROOT / "data" / "samples" / "simply.jpg").convert("RGB")
    batch = [word.resize((128, 32))] * 64
    gflops = model_gflops(Recognizer.load(args.checkpoint).model)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; model {gflops:.3f} GFLOP per 32x128 word\n")
    print("| setting | batch-1 latency (ms/word) | batch-64 throughput (words/s) | acc36 |")
    print("|---|---|---|---|", flush=True)
    best = 0.0
    for name, load in settings(args.checkpoint).items():
        if args.only and not any(text in name for text in args.only):
            continue
        rec = load()
        latency = median_seconds(lambda: rec.read([word]), args.repeats) * 1000
        rec.batch_size = 64
        throughput = 64 / median_seconds(lambda: rec.read(batch), max(5, args.repeats // 5))
        total = WordScores()
        for folder in args.sets:
            total = total.merge(evaluate_folder(rec, folder)[0])
        acc = f"{100 * total.summary()['acc36']:.1f}" if args.sets else "-"
        print(f"| {name} | {latency:.2f} | {throughput:.0f} | {acc} |", flush=True)
        best = max(best, throughput)
    print(f"\ntime to first prediction (python predict.py, one image, process start to exit): "
          f"{time_to_first_prediction():.2f} s")
    print(f"best batch-64 throughput reaches {100 * best * gflops / args.peak_gflops:.1f}% "
          f"of {args.peak_gflops:.0f} GFLOP/s peak")


if __name__ == "__main__":
    main()
