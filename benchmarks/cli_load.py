"""The reading CLI as a user runs it, on real photos, idle and beside busy processes.

    python benchmarks/cli_load.py [--sets ../shared/data/benchmarks/*] [--busy 2] [--repeats 3]

For each backend and precision, runs ``python predict.py FOLDERS... --backend B --precision P
--decoder greedy`` as a process on every image of the benchmark folders, first on the idle
machine, then beside ``--busy`` processes that each keep a core busy (a spinning Python
loop), and prints one Markdown table: images/s of the reading itself (all images minus a
one-image run of the same command, so start-up and imports are left out; median of
``--repeats``) and the loaded rate as a share of the idle one. On a 2-core machine two busy
processes leave a fair share of 0.5. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from common import ROOT, benchmark_sets

SETTINGS = {  # row name: predict.py options
    "PyTorch fp32": ["--backend", "torch", "--precision", "fp32"],
    "PyTorch bf16": ["--backend", "torch", "--precision", "bf16"],
    "PyTorch int8 dynamic": ["--backend", "torch", "--precision", "int8"],
    "onnxruntime int8 (default)": ["--backend", "auto", "--precision", "auto"],
}


def wall_seconds(command: list[str]) -> float:
    """Wall seconds of ``command`` run to completion (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def reading_rate(options: list[str], folders: list[str], images: int, repeats: int) -> float:
    """Images/s of ``predict.py`` over ``folders`` (``images`` images), its start-up subtracted."""
    command = [sys.executable, str(ROOT / "predict.py"), "--decoder", "greedy", *options]
    image_folders = [str(Path(folder) / "images") for folder in folders]
    one = sorted(Path(image_folders[0]).iterdir())[0]
    rates = []
    for _ in range(repeats):
        whole = wall_seconds([*command, *image_folders])
        start_up = wall_seconds([*command, str(one)])
        rates.append((images - 1) / max(whole - start_up, 1e-3))
    return statistics.median(rates)


@contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """``count`` processes that each keep one core busy inside the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="*", default=benchmark_sets())
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the reading (default 2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", metavar="TEXT", help="only the rows whose name contains one of these")
    args = parser.parse_args()
    if not args.sets:
        sys.exit("error: no benchmark folders (give --sets FOLDER ...)")
    images = sum(1 for folder in args.sets for _ in (Path(folder) / "images").iterdir())
    print(f"{images} images in {len(args.sets)} folders; predict.py --decoder greedy; {args.busy} busy processes\n")
    print(f"| setting | idle: images/s | beside {args.busy} busy: images/s | share of idle |\n|---|---|---|---|", flush=True)
    for name, options in SETTINGS.items():
        if args.only and not any(text in name for text in args.only):
            continue
        idle = reading_rate(options, args.sets, images, args.repeats)
        with busy_processes(args.busy):
            loaded = reading_rate(options, args.sets, images, args.repeats)
        print(f"| {name} | {idle:.0f} | {loaded:.0f} | {loaded / idle:.2f} |", flush=True)


if __name__ == "__main__":
    main()
