"""Other engines beside ours on the same word crops, in one run.

    python benchmarks/peers.py [--sets ../shared/data/benchmarks/*] [--threads 2]

Reads every crop of the benchmark folders with each engine that is installed, and prints one
Markdown table: acc36 per set and word-weighted, and ms per word one crop at a time and, for
engines that batch, in batches. Engines: ours with the default settings (the int8 export and
the ``lm`` decoder; batches of 64); RapidOCR's recognizer (``pip install
rapidocr-onnxruntime``, which ships its PP-OCR models; detection and angle classification
off, crops as they are; batches of its default size 6); Tesseract 5 through tesserocr
(``pip install tesserocr``, whose wheel brings Tesseract itself, with the English model of
Debian's ``tesseract-ocr-eng``, or ``TESSDATA_PREFIX``; one word per image, ``--psm 8``; it
does not batch). Every engine gets ``--threads`` threads. An engine
that is not installed is named and skipped. Run it on an idle machine.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from common import ROOT, benchmark_sets

sys.path.insert(0, str(ROOT))

from ocr.data.labels import read_label_file  # noqa: E402
from ocr.data.transforms import load_image  # noqa: E402
from ocr.text.metrics import WordScores  # noqa: E402

Reader = Callable[[list[Image.Image]], list[str]]  # crops -> texts


def ours(threads: int) -> tuple[str, Reader, int]:
    import torch

    from ocr import Recognizer

    torch.set_num_threads(threads)
    rec = Recognizer.load()
    name = f"ocr {importlib.metadata.version('ocr')} (default settings: {rec.backend} {rec.precision}, lm decoder)"
    return name, lambda crops: [p.text for p in rec.read(crops)], 64


def rapidocr(threads: int) -> tuple[str, Reader, int]:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)

    def read(crops: list[Image.Image]) -> list[str]:
        arrays = [np.asarray(crop.convert("RGB"))[:, :, ::-1].copy() for crop in crops]  # BGR, as OpenCV reads
        results, _ = engine.text_rec(arrays)
        return [text for text, _ in results]

    version = importlib.metadata.version("rapidocr-onnxruntime")
    return f"RapidOCR {version} recognizer (PP-OCR, onnxruntime)", read, engine.text_rec.rec_batch_num


def tesseract(threads: int) -> tuple[str, Reader, int]:
    os.environ["OMP_THREAD_LIMIT"] = str(threads)
    import tesserocr

    # the tesserocr wheel brings its own Tesseract; the English model is Debian's tesseract-ocr-eng
    found = sorted(Path("/usr/share/tesseract-ocr").glob("*/tessdata"))
    tessdata = os.environ.get("TESSDATA_PREFIX") or (str(found[-1]) + "/" if found else "./")
    api = tesserocr.PyTessBaseAPI(path=tessdata, psm=tesserocr.PSM.SINGLE_WORD)

    def read(crops: list[Image.Image]) -> list[str]:
        texts = []
        for crop in crops:
            api.SetImage(crop.convert("RGB"))
            texts.append(api.GetUTF8Text().strip())
        return texts

    version = tesserocr.tesseract_version().split()[1]
    return f"Tesseract {version} (tesserocr {importlib.metadata.version('tesserocr')}, --psm 8)", read, 1


ENGINES = {"ours": ours, "rapidocr": rapidocr, "tesseract": tesseract}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="*", default=benchmark_sets())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engines", nargs="*", default=list(ENGINES), choices=list(ENGINES))
    args = parser.parse_args()
    sets = {Path(folder).name: [(load_image(path), label) for path, label in read_label_file(folder)]
            for folder in args.sets}
    names = list(sets)
    print(f"{time.strftime('%Y-%m-%d')}; {sum(map(len, sets.values()))} crops; {args.threads} threads\n")
    print(f"| engine | {' | '.join(names)} | word-weighted acc36 | ms/word, one at a time | ms/word, batched |")
    print("|---|" + "---|" * (len(names) + 3), flush=True)
    for key in args.engines:
        try:
            name, read, batch = ENGINES[key](args.threads)
        except ImportError as err:
            print(f"| {key}: not installed ({err.name or err}) |" + " |" * (len(names) + 3), flush=True)
            continue
        read([crop for crop, _ in sets[names[0]][:batch]])  # warm-up
        total, cells, single, batched = WordScores(), [], [], []
        for words in sets.values():
            crops = [crop for crop, _ in words]
            for crop in crops[:200]:
                start = time.perf_counter()
                read([crop])
                single.append(time.perf_counter() - start)
            texts = []
            for start_index in range(0, len(crops), batch):
                start = time.perf_counter()
                texts += read(crops[start_index : start_index + batch])
                batched.append((time.perf_counter() - start) / len(crops[start_index : start_index + batch]))
            scores = WordScores()
            for text, (_, label) in zip(texts, words):
                scores.add(text, label)
            total = total.merge(scores)
            cells.append(f"{100 * scores.summary()['acc36']:.1f}")
        batched_cell = f"{1000 * statistics.median(batched):.2f} (batches of {batch})" if batch > 1 else "-"
        print(f"| {name} | {' | '.join(cells)} | {100 * total.summary()['acc36']:.1f} "
              f"| {1000 * statistics.median(single):.2f} | {batched_cell} |", flush=True)


if __name__ == "__main__":
    main()
