"""Where an exported model spends its time in onnxruntime: per operator type and per node.

    python benchmarks/onnx_profile.py [--model data/models/default.int8.onnx] [--batch 64] [--width 128]

Runs the model ``--runs`` times on a batch of ``--batch`` gray 32 x ``--width`` inputs (all
full width, so an export's branch without padding masks runs; ``--padded`` for the other) with
onnxruntime's profiler on (the first run is a warm-up and not counted) and prints two
Markdown tables: the share of kernel time per operator type, and the slowest nodes with
their median time per run. Run it on an idle machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

import onnxruntime

from common import ROOT, onnx_feed


CONTAINERS = ("If", "Loop", "Scan")  # their time is their subgraph's nodes', listed on their own


def node_times(model: Path, batch: int, width: int, runs: int, threads: int,
               padded: bool = False) -> dict[tuple[str, str], list[float]]:
    """Microseconds per run of every node but a container's, keyed by (operator type, node name)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        feed = onnx_feed(batch, width, padded)
        for _ in range(runs + 1):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_run: dict[tuple[str, str], list[float]] = defaultdict(list)
    for event in events:
        if (event.get("cat") == "Node" and event["name"].endswith("_kernel_time")
                and event["args"]["op_name"] not in CONTAINERS):
            key = (event["args"]["op_name"], event["name"][: -len("_kernel_time")])
            per_run[key].append(float(event["dur"]))
    return {key: times[1:] for key, times in per_run.items()}  # drop the warm-up run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "data" / "models" / "default.int8.onnx")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=12, help="how many of the slowest nodes to list")
    parser.add_argument("--padded", action="store_true",
                        help="the last image 8 columns narrower: the graph's branch with padding masks runs")
    args = parser.parse_args()
    times = node_times(args.model, args.batch, args.width, args.runs, args.threads, args.padded)
    median = {key: statistics.median(values) / 1000 for key, values in times.items() if values}
    total = sum(median.values())
    by_type: dict[str, float] = defaultdict(float)
    for (op, _), ms in median.items():
        by_type[op] += ms
    print(f"{args.model.name}: batch {args.batch} x 32x{args.width}, {args.threads} threads; "
          f"kernel time {total:.1f} ms per run (median of {args.runs})\n")
    print("| operator | ms per run | share |\n|---|---|---|")
    for op, ms in sorted(by_type.items(), key=lambda item: -item[1]):
        print(f"| {op} | {ms:.2f} | {100 * ms / total:.1f}% |")
    print(f"\n| node (slowest {args.top}) | operator | ms per run | share |\n|---|---|---|---|")
    for (op, name), ms in sorted(median.items(), key=lambda item: -item[1])[: args.top]:
        print(f"| {name} | {op} | {ms:.2f} | {100 * ms / total:.1f}% |")


if __name__ == "__main__":
    main()
