"""How the ``lm`` decoder's settings were chosen: on rendered words, never on benchmark photos.

    python benchmarks/lm_settings.py [--checkpoint X.ckpt] [--count 3000] [--seed 777]
    python benchmarks/lm_settings.py --holdout 0.1      # the real crops training held out

Renders ``--count`` words of the default model's recipe (``experiment=default_model``, a seed
its training never used), or with ``--holdout`` takes the real training folders' held-out
crops (``data.holdout``, ``data.holdout_seed=0``: the real validation split, which shares
no vocabulary source with the letter model, unlike the rendered words), reads them once
with the model, then decodes the same per-step
log-probabilities with greedy, beam, and the ``lm`` decoder over a grid of prior weights and
length bonuses (every word searched), and at the chosen weights over confidence thresholds
(only the words below it searched; characters below 0.001 or 0.01 at a step not tried), beam
widths and margins (prefixes scoring this far below the best dropped). Prints Markdown
tables of acc36, acc_cs and decoding time.
"""
from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Callable

import numpy as np
from tqdm import tqdm

from common import held_out_crops, train_real_sets

from ocr import Recognizer
from ocr.assets import DEFAULT_LM
from ocr.data.prerender import rendered_words
from ocr.text.decoders import GreedyDecoder, LmSettings
from ocr.text.decoding import LanguagePrior, collapse, prefix_beam_search
from ocr.text.language_model import CharNgram
from ocr.text.metrics import WordScores


def log_probs_of(rec: Recognizer, images: list) -> list[np.ndarray]:
    """Each image's (T, C) log-probabilities, as the recognizer's decoder receives them."""
    captured: list[np.ndarray] = []
    greedy = GreedyDecoder(rec.charset)

    def capture(log_probs: np.ndarray, lengths: np.ndarray, word_starts: list[list[int]] | None = None):
        per_word = log_probs.transpose(1, 0, 2)
        captured.extend(logp[:n].copy() for logp, n in zip(per_word, lengths.tolist()))
        return greedy(log_probs, lengths, word_starts)

    rec.decode = capture
    out = []
    for image in tqdm(images, desc="reading", unit="word"):
        captured.clear()
        rec.read([image])  # one image per call: its log-probabilities are the ones captured
        # a tall image (recognizer.TALL) is also read turned: keep the view it reads best
        out.append(max(captured, key=lambda logp: greedy(logp[:, None], np.array([len(logp)]))[0].confidence))
    return out


def scores(words: list[tuple[str, np.ndarray]], decode: Callable[[np.ndarray], str]) -> tuple[float, float, float]:
    """acc36 and acc_cs in percent, and milliseconds per word."""
    start, tally = time.perf_counter(), WordScores()
    for label, logp in words:
        tally.add(decode(logp), label)
    ms = (time.perf_counter() - start) * 1000 / len(words)
    summary = tally.summary()
    return 100 * summary["acc36"], 100 * summary["acc_cs"], ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="default: the shipped model")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--weights", type=float, nargs="*", default=[0.3, 0.4, 0.6])
    parser.add_argument("--bonuses", type=float, nargs="*", default=[1.0, 2.0, 3.0])
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.8, 0.9, 0.95, 0.99])
    parser.add_argument("--widths", type=int, nargs="*", default=[10], help="beam widths of the threshold table")
    parser.add_argument("--holdout", type=float, metavar="FRACTION",
                        help="the real crops training held out instead of rendered words (0.1 as trained)")
    parser.add_argument("--margins", type=float, nargs="*", default=[LmSettings.margin],
                        help="margins of the threshold table (inf: none)")
    args = parser.parse_args()
    if args.holdout:
        samples, source = held_out_crops(train_real_sets(), args.holdout), "held-out real crops"
    else:
        dataset, _ = rendered_words(["experiment=default_model"], args.count, args.seed)
        samples = [dataset.render(i) for i in range(args.count)]
        samples = [(image, label) for image, label, _ in samples if min(image.size) >= 4]  # as predict.py refuses
        source = f"rendered words (seed {args.seed})"
    rec = Recognizer.load(args.checkpoint, batch_size=1, backend="auto", precision="auto")
    charset = rec.charset
    words = list(zip([label for _, label in samples], log_probs_of(rec, [image for image, _ in samples])))
    lm = CharNgram.load(DEFAULT_LM)

    def greedy(logp: np.ndarray) -> str:
        return charset.decode(i for i, _, _ in collapse(logp.argmax(-1).tolist()))

    def searched(prior: LanguagePrior | None, prune: float = 1e-3, width: int = 10,
                 margin: float = math.inf) -> Callable[[np.ndarray], str]:
        return lambda logp: charset.decode(prefix_beam_search(logp, width, prune, prior, margin=margin)[0])

    print(f"{len(words)} {source}\n")
    print("| decoder | weight | bonus | acc36 | acc_cs | ms/word |\n|---|---|---|---|---|---|")
    for name, decode in (("greedy", greedy), ("beam 10", searched(None))):
        print(f"| {name} | - | - | " + " | ".join(f"{v:.2f}" for v in scores(words, decode)) + " |", flush=True)
    best = (0.0, 0.0, 0.0)
    for weight in args.weights:
        for bonus in args.bonuses:
            acc36, acc_cs, ms = scores(words, searched(LanguagePrior(lm, charset, weight, bonus, LmSettings.other)))
            print(f"| lm, every word | {weight} | {bonus} | {acc36:.2f} | {acc_cs:.2f} | {ms:.2f} |", flush=True)
            best = max(best, (acc36, weight, bonus))
    _, weight, bonus = best
    prior = LanguagePrior(lm, charset, weight, bonus, LmSettings.other)
    confidences = [GreedyDecoder(charset)(logp[:, None], np.array([len(logp)]))[0].confidence
                   for _, logp in words]
    print(f"\nweight {weight}, bonus {bonus}: only words read below a confidence threshold searched\n")
    print("| threshold | prune | width | margin | words searched | acc36 | acc_cs | ms/word |\n"
          "|---|---|---|---|---|---|---|---|")
    for threshold, prune, width, margin in itertools.product(args.thresholds, (1e-3, 1e-2), args.widths, args.margins):
        chosen = iter(c < threshold for c in confidences)
        share = 100 * np.mean([c < threshold for c in confidences])
        search = searched(prior, prune, width, margin)
        acc36, acc_cs, ms = scores(words, lambda logp: search(logp) if next(chosen) else greedy(logp))
        print(f"| {threshold} | {prune} | {width} | {margin:g} | {share:.1f}% | {acc36:.2f} | {acc_cs:.2f} | {ms:.2f} |", flush=True)


if __name__ == "__main__":
    main()
