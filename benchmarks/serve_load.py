"""Requests/s and latency of ``ocr serve`` under a bounded local load (loopback only).

    python benchmarks/serve_load.py [--images DIR] [--requests 300] [--concurrency 1 8 32]

Starts ``ocr serve`` (the default model and settings) on a free loopback port, then, for
each concurrency, that many client threads send one-image ``POST /read`` requests of real
word crops (default: the benchmark folders' images, else data/samples) until ``--requests``
have been answered. Prints a Markdown table: requests/s, p50 and p95 latency (ms), and the
mean images per forward pass (concurrent requests are batched together), with
``--max-wait-ms`` 0 (the default: a batch takes what queued while the last one was read) and 5.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from common import ROOT, benchmark_sets



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, max_wait_ms: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "ocr.cli", "serve", "--port", str(port),
                                "--max-wait-ms", str(max_wait_ms)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("error: ocr serve did not start")


def load(url: str, images: list[tuple[str, bytes]], requests: int, concurrency: int) -> tuple[float, list[float]]:
    """Wall time and per-request latencies (s) of ``requests`` requests from ``concurrency`` threads."""
    latencies: list[float] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                name, data = images[i % len(images)]
                start = time.perf_counter()
                answer = http.post(url + "/read", files=[("files", (name, data))])
                answer.raise_for_status()
                with lock:
                    latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", nargs="*", default=[Path(p) for p in benchmark_sets()])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    files = [p for d in args.images for p in sorted(Path(d).rglob("*")) if p.suffix.lower() in (".jpg", ".png")]
    files = files or sorted((ROOT / "data" / "samples").glob("*.*g"))
    images = [(p.name, p.read_bytes()) for p in files[: args.requests]]
    print(f"{len(images)} distinct images, {args.requests} one-image requests per row, loopback\n")
    print("| max-wait-ms | concurrency | requests/s | p50 ms | p95 ms | images per forward pass |")
    print("|---|---|---|---|---|---|")
    for wait in (0.0, 5.0):
        port = free_port()
        server = start_server(port, wait)
        url = f"http://127.0.0.1:{port}"
        try:
            load(url, images, 20, 1)  # warm-up
            for concurrency in args.concurrency:
                before = httpx.get(url + "/health").json()["batches_read"]
                seconds, latencies = load(url, images, args.requests, concurrency)
                batches = httpx.get(url + "/health").json()["batches_read"] - before
                q = statistics.quantiles(latencies, n=20)
                print(f"| {wait:g} | {concurrency} | {args.requests / seconds:.0f} | {statistics.median(latencies) * 1000:.1f} "
                      f"| {q[18] * 1000:.1f} | {args.requests / max(batches, 1):.1f} |")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
