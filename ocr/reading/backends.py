"""Run the network where the Recognizer expects it (``model(images, widths)`` on numpy
arrays): an exported ONNX model here, PyTorch in :mod:`ocr.reading.torch_backend`; batches
split between single-threaded workers. Imports no PyTorch."""
from __future__ import annotations

import importlib.util
import itertools
import json
import os
import tempfile
import threading
import warnings
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ocr.data.transforms import Preprocess
from ocr.reading.loaded import CheckpointError, LoadedModel, file_sha256
from ocr.text.charset import Charset

BACKENDS = ("torch", "onnx", "auto")
# batches made and sent ahead per worker before the caller waits for the oldest: made while
# the workers compute, so none waits for the caller to finish decoding (calls of 64 benchmark
# words: 3-5% more words/s than with one batch queued, README Speed)
QUEUED_PER_WORKER = 4

Batch = tuple[np.ndarray, np.ndarray]  # right-padded float32 images (B, C, H, W) and their widths (B,)
Run = Callable[[np.ndarray, np.ndarray], np.ndarray]  # a batch -> log-probabilities (T, B, classes)


def available_cores() -> int:
    """The cores this process may run on, or ``OMP_NUM_THREADS`` where set (as PyTorch reads it)."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class SplitModel(ABC):
    """A network that reads a stream of batches (:meth:`stream`), or one batch split into
    ``threads`` parts (``model(images, widths)``, as a CRNN is called).

    Each worker thread computes on one thread: the threads of one OpenMP team wait for each
    other at every operator, so on a busy CPU one descheduled thread stalls the rest, while
    single threads run on as far as the CPU lets them (timings in the README, Speed). The
    workers start with the first call that needs them, so reading one image starts as fast
    as without."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or available_cores()
        self.pool: ThreadPoolExecutor | None = None
        self._worker = threading.local()  # each worker thread's own Run
        self._started = itertools.count()

    @abstractmethod
    def _inline(self) -> Run:
        """How one batch runs on the calling thread."""

    @abstractmethod
    def _worker_run(self, index: int) -> Run:
        """How the ``index``-th worker thread runs its batches (called once, on that thread)."""

    @staticmethod
    def _start_worker(model_ref: weakref.ref[SplitModel]) -> None:
        # the workers hold the model weakly: a model no one uses is freed, and its pool with
        # it, whose threads then end (a bound method would keep all three alive for ever)
        model = model_ref()
        if model is not None:
            model._worker.run = model._worker_run(next(model._started))

    def _on_worker(self, batch: Batch) -> np.ndarray:
        return self._worker.run(*batch)

    def stream(self, makers: Sequence[Callable[[], Batch]]) -> Iterator[tuple[Batch, np.ndarray]]:
        """Each batch that ``makers`` make, with its log-probabilities, in order. A lone batch
        runs on the calling thread; more run side by side on the workers. The caller makes
        (each maker is called on the calling thread) and sends up to
        :data:`QUEUED_PER_WORKER` batches per worker ahead, then works on (decodes) those it
        got while the workers go on: batches of words of similar width, each padded only to
        its own widest, cost less than one batch padded to the widest of all."""
        if len(makers) < 2:
            for make in makers:
                batch = make()
                yield batch, self._inline()(*batch)
            return
        pending: deque[tuple[Batch, Future]] = deque()
        for make in makers:
            batch = make()
            pending.append((batch, self.submit(*batch)))
            if len(pending) >= QUEUED_PER_WORKER * self.threads:
                batch, future = pending.popleft()
                yield batch, future.result()
        for batch, future in pending:
            yield batch, future.result()

    def submit(self, images: np.ndarray, widths: np.ndarray) -> Future:
        """One batch sent to the workers (started with the first call that needs them); its
        log-probabilities come in the future."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.threads, initializer=self._start_worker,
                                           initargs=(weakref.ref(self),))
        return self.pool.submit(self._on_worker, (images, widths))

    def __call__(self, images: np.ndarray, widths: np.ndarray) -> np.ndarray:
        parts = min(self.threads, images.shape[0])
        halves = zip(np.array_split(images, parts), np.array_split(widths, parts))
        return np.concatenate([out for _, out in self.stream([lambda part=part: part for part in halves])], axis=1)


class OnnxModel(SplitModel):
    """onnxruntime as a :class:`SplitModel`: one single-threaded session per worker, run side
    by side (a run releases the GIL): the LSTM's step-by-step work divides poorly between the
    threads of one session (README, Speed). The first worker shares the calling thread's
    session (a session may run on several threads at once); the others start their own
    with the first call that needs them."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime

        super().__init__(threads)
        self.model_bytes = Path(path).read_bytes()  # the file may be temporary (load_as_onnx)
        self.options = onnxruntime.SessionOptions()
        self.options.intra_op_num_threads = 1
        self.session = self._new_session()

    def _new_session(self):
        import onnxruntime

        return onnxruntime.InferenceSession(self.model_bytes, self.options, providers=["CPUExecutionProvider"])

    @staticmethod
    def _runner(session) -> Run:
        return lambda images, widths: session.run(None, {"images": images, "widths": widths})[0]

    def _inline(self) -> Run:
        return self._runner(self.session)

    def _worker_run(self, index: int) -> Run:
        return self._runner(self.session if index == 0 else self._new_session())


def load_onnx(path: str | Path) -> LoadedModel:
    """An exported model (``python -m ocr.reading.export``) with the charset and input settings it carries."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        model = OnnxModel(path)
        meta = model.session.get_modelmeta().custom_metadata_map
        charset = Charset.from_config(json.loads(meta["ocr.charset"]))
        spec = json.loads(meta["ocr.input"])
    except Exception as err:  # onnxruntime raises many kinds on a foreign file
        raise CheckpointError(f"{path}: not an ocr ONNX export ({type(err).__name__})") from None
    hparams = {"charset": charset.to_config(), "model": {"input": spec},
               "precision": meta.get("ocr.precision", "fp32"), "source_sha256": meta.get("ocr.source_sha256")}
    return LoadedModel(model, charset, Preprocess(**spec), hparams)


# the int8 export for each kind of x86 CPU (int8_kernels), beside its checkpoint X.ckpt
INT8_SUFFIXES = {"vnni": ".int8.onnx", "avx2": ".int8-7bit.onnx"}
INT8_FORMATS = {"vnni": "onnx-int8", "avx2": "onnx-int8-7bit"}


def int8_kernels() -> str | None:
    """Which int8 export this CPU's onnxruntime kernels read exactly and fast: ``vnni`` (x86
    with the int8 dot-product instructions: full 8-bit weights), ``avx2`` (x86 without them:
    their kernels can saturate on 8-bit weights, so 7-bit ones), or None (other CPUs)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return None
    if flags & {"avx512_vnni", "avx_vnni"}:
        return "vnni"
    return "avx2" if "avx2" in flags else None


def int8_format() -> str:
    """The export format (:data:`ocr.reading.export.FORMATS`) whose int8 numbers this CPU's
    onnxruntime kernels compute exactly: 7-bit weights on x86 without VNNI, 8-bit elsewhere."""
    return INT8_FORMATS.get(int8_kernels(), "onnx-int8")


def int8_export_of(checkpoint: Path, kernels: str = "vnni") -> Path:
    """Where the int8 ONNX export of ``checkpoint`` for CPUs of ``kernels`` is looked for:
    ``X.ckpt`` -> ``X.int8.onnx`` (VNNI) or ``X.int8-7bit.onnx`` (AVX2 without VNNI)."""
    return checkpoint.with_suffix(INT8_SUFFIXES[kernels])


def load_as_onnx(checkpoint: str | Path, int8: bool = False) -> LoadedModel:
    """Export a PyTorch checkpoint to a temporary ONNX file (int8-quantised with ``int8``,
    with 7-bit weights on CPUs without VNNI: a few seconds of calibration, see
    :mod:`ocr.reading.quantization`) and load that."""
    from ocr.reading.export import export

    fmt = int8_format() if int8 else "onnx"
    with tempfile.TemporaryDirectory() as folder:
        return load_onnx(export(checkpoint, fmt, Path(folder) / "model.onnx"))


def fast_int8(checkpoint: Path) -> LoadedModel | None:
    """The int8 export of ``checkpoint`` for this CPU (:func:`int8_export_of`), where it is the
    fastest correct way to run that model here: onnxruntime installed, an x86 CPU with VNNI or
    AVX2, and the file exported from exactly this checkpoint (SHA-256). Otherwise None (a
    stale export is named in a warning)."""
    kernels = int8_kernels()
    if kernels is None or importlib.util.find_spec("onnxruntime") is None:
        return None
    onnx_path = int8_export_of(checkpoint, kernels)
    if not onnx_path.is_file():
        return None
    loaded = load_onnx(onnx_path)
    if loaded.hparams["source_sha256"] != file_sha256(checkpoint):
        warnings.warn(f"{onnx_path}: not exported from {checkpoint} (re-export it with python -m ocr.reading.export); "
                      "using PyTorch", stacklevel=2)
        return None
    return loaded
