"""Reading speed on this machine, per inference setting, with the accuracy each keeps.

    python benchmarks/speed.py [--checkpoint X.ckpt [--second-opinion Y.ckpt]] \
        [--sets ../shared/data/benchmarks/*] [--only onnxruntime]

One Markdown table, images in memory, image to text: batch-1 latency (median ms per word) on
the sample ``simply`` (82x32 at the model's height) and batch-64 throughput (words/s, from the
median time per batch of 64) on it resized to 128x32, so settings compare on equal work; then
the same on the benchmark folders' words as they come (all of them, the sets interleaved, in
calls of 64; latency over the first 200; their widths vary, and only there do uncertain
words cost the ``lm`` decoder a search; the median of ``--passes`` passes, each by a fresh
recognizer), all of them in one call (as predict.py reads a folder: sorted by width in
windows of 16 batches, median of 3), and acc36 over them; for PyTorch fp32 (NCHW and
channels_last), bf16 autocast, int8 dynamic
quantisation, torch.compile and onnxruntime (fp32 and int8 static quantisation) with the
greedy decoder, then the other decoders and the default settings of predict.py;
plus the model's GFLOP per 32x128 word, the fraction of the CPU's fp32 peak (``--peak-gflops``,
470 measured on the 2-core dev machine) that the best fp32 or bf16 batch-64 setting reaches, and the
time from ``python predict.py`` start to its answer. Each setting is measured in a process of
its own, so none inherits what another left running.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from itertools import zip_longest

import torch
from PIL import Image
from wordfreq import top_n_list

from ocr import Recognizer
from ocr.data.labels import read_label_file
from ocr.data.transforms import load_image
from ocr.text.metrics import WordScores
from common import ROOT, benchmark_sets



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


def seconds(fn: Callable, *args) -> float:
    """Wall seconds of one call of ``fn(*args)``."""
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls of ``fn``, after one warm-up call (and compilation)."""
    fn()
    return statistics.median(seconds(fn) for _ in range(repeats))


def channels_first(checkpoint: str | None) -> Recognizer:
    """The PyTorch fp32 model with its convolutions in NCHW instead of channels_last."""
    rec = Recognizer.load(checkpoint, decoder="greedy", backend="torch", precision="fp32", second_opinion=None)
    rec.model.backbone.memory_format = torch.contiguous_format
    rec.model.backbone.to(memory_format=torch.contiguous_format)
    return rec


def compiled(checkpoint: str | None) -> Recognizer:
    """The PyTorch fp32 model under torch.compile (dynamic shapes: any batch and width)."""
    rec = Recognizer.load(checkpoint, decoder="greedy", backend="torch", precision="fp32", second_opinion=None)
    rec.model = torch.compile(rec.model, dynamic=True)
    return rec


def settings(checkpoint: str | None, second_opinion: str = "auto") -> dict[str, Callable[[], Recognizer]]:
    """Every inference setting worth comparing (all PyTorch ones with batch norm folded),
    each loaded only when asked for; all but the defaults read with the first network alone,
    the defaults with ``second_opinion`` (as :meth:`Recognizer.load` takes it)."""
    torch_fp32 = partial(Recognizer.load, checkpoint, backend="torch", precision="fp32", second_opinion=None)
    greedy = partial(torch_fp32, decoder="greedy")
    default = partial(Recognizer.load, checkpoint, backend="auto", precision="auto", second_opinion=second_opinion)
    return {
        "PyTorch fp32, NCHW": lambda: channels_first(checkpoint),
        "PyTorch fp32, channels_last": greedy,
        "PyTorch bf16 autocast": lambda: greedy(precision="bf16"),
        "PyTorch int8 dynamic (RNN, linear)": lambda: greedy(precision="int8"),
        "torch.compile fp32": lambda: compiled(checkpoint),
        "onnxruntime fp32": lambda: greedy(backend="onnx", precision="fp32"),
        "onnxruntime int8 (static convolutions, dynamic LSTM)": lambda: greedy(backend="onnx", precision="int8"),
        "PyTorch fp32, beam search (width 10)": lambda: torch_fp32(decoder="beam"),
        "PyTorch fp32, lexicon of 50k wordfreq words": lambda: torch_fp32(
            decoder="lexicon", lexicon=top_n_list("en", 50000)),
        "default: auto backend and precision (the int8 exports), lm decoder, second look, second opinion and "
        "unbending": default,
        "default without the second look": lambda: default(second_look=False),
        "default without unbending": lambda: default(unbend=False),
        "default without the second opinion": lambda: default(second_opinion=None),
    }


def labelled_words(folders: list[str]) -> list[tuple[Image.Image, str]]:
    """Every labelled image of ``folders``, loaded, interleaved across folders."""
    per_folder = [[(load_image(path), label) for path, label in read_label_file(folder)] for folder in folders]
    return [item for group in zip_longest(*per_folder) for item in group if item is not None]


def time_to_first_prediction(repeats: int = 3) -> float:
    """Median wall seconds of ``python predict.py`` on one sample, from process start to exit."""
    command = [sys.executable, str(ROOT / "predict.py"), str(ROOT / "data" / "samples" / "simply.jpg")]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def real_word_pass(rec: Recognizer, images: list[Image.Image]) -> tuple[float, float, list[str]]:
    """Batch-1 latency (median ms) over the first 200 of ``images``, then words/s reading them
    all in calls of 64 (from the median call; the last, shorter one left out), and the texts."""
    latency = statistics.median(seconds(rec.read, [image]) for image in images[:200]) * 1000
    call_times, texts = [], []
    for start in range(0, len(images), 64):
        batch = images[start : start + 64]
        call_times.append(seconds(lambda: texts.extend(p.text for p in rec.read(batch))))
    return latency, 64 / statistics.median(call_times[:-1] or call_times), texts


def measure(name: str, args: argparse.Namespace) -> tuple[list[str], float]:
    """The table cells of setting ``name``, measured in this process, and its batch-64 throughput
    on the 128x32 words."""
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(ROOT / ".cache" / "inductor"))
    sample = Image.open(ROOT / "data" / "samples" / "simply.jpg").convert("RGB")
    wide = sample.resize((128, 32))
    words = labelled_words(args.sets)
    images = [image for image, _ in words]
    make = settings(args.checkpoint, args.second_opinion)[name]
    rec = make()
    latency = median_seconds(lambda: rec.read([sample]), args.repeats) * 1000
    throughput = 64 / median_seconds(lambda: rec.read([wide] * 64), max(10, args.repeats // 2))
    cells = [f"{latency:.2f}", f"{throughput:.0f}"]
    if words:
        # each pass by a fresh recognizer, so none reads words whose letter-model states an
        # earlier pass cached; the median pass is reported
        passes = [real_word_pass(rec if k == 0 else make(), images) for k in range(args.passes)]
        scores = WordScores()
        for text, (_, label) in zip(passes[0][2], words):
            scores.add(text, label)
        whole = len(images) / median_seconds(lambda: rec.read(images), 3)  # as predict.py reads a folder
        cells += [f"{statistics.median(p[0] for p in passes):.2f}", f"{statistics.median(p[1] for p in passes):.0f}",
                  f"{whole:.0f}", f"{100 * scores.summary()['acc36']:.1f}"]
    return cells, throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped model")
    parser.add_argument("--second-opinion", default="auto",
                        help="the second network of the default rows: auto (the shipped one with the shipped "
                             "model, else none), none, or a checkpoint")
    parser.add_argument("--sets", nargs="*", default=benchmark_sets())
    parser.add_argument("--peak-gflops", type=float, default=470.0)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--passes", type=int, default=3,
                        help="passes over the benchmark words, each by a fresh recognizer (median reported)")
    parser.add_argument("--only", nargs="*", metavar="TEXT",
                        help="only the settings whose name contains one of these (e.g. onnxruntime)")
    args = parser.parse_args()
    gflops = model_gflops(Recognizer.load(args.checkpoint, backend="torch", precision="fp32").model)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; model {gflops:.3f} GFLOP per 32x128 word; "
          f"{sum(len(read_label_file(folder)) for folder in args.sets)} benchmark words; each setting measured in a fresh process\n")
    print("| setting | sample word: batch-1 ms/word | 128x32 words: batch-64 words/s "
          "| benchmark words: batch-1 ms/word | benchmark words: batch-64 words/s "
          "| benchmark words: all in one call, words/s | acc36 |")
    print("|---|---|---|---|---|---|---|", flush=True)
    names = [name for name in settings(args.checkpoint, args.second_opinion)
             if not args.only or any(text in name for text in args.only)]
    best = 0.0
    # a fresh process per setting, as predict.py runs: measured after torch.compile's row in the
    # same process, the defaults read the benchmark words in calls of 64 at 1,079 words/s, alone at 1,228
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        for name in names:
            cells, throughput = pool.submit(measure, name, args).result()
            if "int8" not in name and not name.startswith("default"):  # int8 work is not fp32 work
                best = max(best, throughput)
            print(f"| {name} | " + " | ".join(cells + ["-"] * (6 - len(cells))) + " |", flush=True)
    print(f"\ntime to first prediction (python predict.py, one image, process start to exit): "
          f"{time_to_first_prediction():.2f} s")
    if best:
        print(f"the best fp32 or bf16 batch-64 throughput reaches {100 * best * gflops / args.peak_gflops:.1f}% "
              f"of {args.peak_gflops:.0f} GFLOP/s fp32 peak")


if __name__ == "__main__":
    main()
