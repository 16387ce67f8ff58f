"""Run the network where the Recognizer expects it (``model(images, widths)``): PyTorch or an
exported ONNX model, batches split between single-threaded workers."""
from __future__ import annotations

import importlib.util
import json
import tempfile
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ocr.data.transforms import Preprocess
from ocr.reading.checkpoint import CheckpointError, LoadedModel, file_sha256
from ocr.text.charset import Charset

BACKENDS = ("torch", "onnx", "auto")


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """PyTorch's intra-op threads set to ``count`` inside the block, restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


Batch = tuple[torch.Tensor, torch.Tensor]  # right-padded images (B, C, H, W) and their widths (B,)
Run = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # a batch -> log-probabilities (T, B, classes)


class SplitModel(ABC):
    """A network that reads up to ``threads`` batches side by side (:meth:`parts`), or one
    batch split into that many parts (``model(images, widths)``, as a CRNN is called).

    Each worker thread computes PyTorch's share on one intra-op thread: the threads of one
    OpenMP team wait for each other at every operator, so on a busy CPU one descheduled
    thread stalls the rest, while single threads run on as far as the CPU lets them (timings
    in the README, Speed). The workers start with the first call that needs them, so reading
    one image starts as fast as without."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or torch.get_num_threads()
        self.pool: ThreadPoolExecutor | None = None

    @abstractmethod
    def _inline(self) -> Run:
        """How one batch runs on the calling thread."""

    @abstractmethod
    def _workers(self) -> list[Run]:
        """How each worker runs its batch."""

    def parts(self, batches: list[Batch]) -> list[torch.Tensor]:
        """Log-probabilities of each of ``batches`` (at most ``threads``): one on the calling
        thread, more side by side. Batches of words of similar width, each padded only to its
        own widest, cost less than one batch padded to the widest of all."""
        if len(batches) == 1:
            return [self._inline()(*batches[0])]
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.threads, initializer=torch.set_num_threads, initargs=(1,))
        return list(self.pool.map(lambda run, batch: run(*batch), self._workers(), batches))

    def __call__(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        parts = min(self.threads, images.shape[0])
        return torch.cat(self.parts(list(zip(images.tensor_split(parts), widths.tensor_split(parts)))), dim=1)


class TorchModel(SplitModel):
    """A PyTorch CRNN as a :class:`SplitModel`: one batch on the calling thread (with the
    caller's threads), several side by side on single-threaded workers, each in inference mode and,
    with ``bf16``, under bf16 autocast (both are set per thread)."""

    def __init__(self, model: torch.nn.Module, bf16: bool = False, threads: int | None = None) -> None:
        super().__init__(threads)
        self.model, self.bf16 = model, bf16

    def _run(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self.model(images, widths)

    def _inline(self) -> Run:
        return self._run

    def _workers(self) -> list[Run]:
        return [self._run] * self.threads


class OnnxModel(SplitModel):
    """onnxruntime as a :class:`SplitModel`: one single-threaded session per worker, run side
    by side (a run releases the GIL): the LSTM's step-by-step work divides poorly between the
    threads of one session (README, Speed). Sessions beyond the first start with the first
    call that needs them."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime

        super().__init__(threads)
        self.model_bytes = Path(path).read_bytes()  # the file may be temporary (load_as_onnx)
        self.options = onnxruntime.SessionOptions()
        self.options.intra_op_num_threads = 1
        self.session = self._new_session()
        self.sessions = [self.session]

    def _new_session(self):
        import onnxruntime

        return onnxruntime.InferenceSession(self.model_bytes, self.options, providers=["CPUExecutionProvider"])

    @staticmethod
    def _runner(session) -> Run:
        return lambda images, widths: torch.from_numpy(
            session.run(None, {"images": images.numpy(), "widths": widths.numpy()})[0])

    def _inline(self) -> Run:
        return self._runner(self.session)

    def _workers(self) -> list[Run]:
        self.sessions += [self._new_session() for _ in range(self.threads - len(self.sessions))]
        return [self._runner(session) for session in self.sessions]


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


def load_as_onnx(checkpoint: str | Path, int8: bool = False) -> LoadedModel:
    """Export a PyTorch checkpoint to a temporary ONNX file (int8-quantised with ``int8``:
    a few seconds of calibration, see :mod:`ocr.reading.quantization`) and load that."""
    from ocr.reading.export import export

    with tempfile.TemporaryDirectory() as folder:
        return load_onnx(export(checkpoint, "onnx-int8" if int8 else "onnx", Path(folder) / "model.onnx"))


def has_int8_dot_product() -> bool:
    """True on x86 CPUs with VNNI, the int8 dot-product instructions onnxruntime's int8 kernels
    are fast and exact with (without them, full-range 8-bit weights can saturate)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return bool(flags & {"avx512_vnni", "avx_vnni"})


def fast_int8(onnx_path: Path, checkpoint: Path) -> LoadedModel | None:
    """The int8 export ``onnx_path`` of ``checkpoint``, where it is the fastest correct way to run
    that model here: onnxruntime installed, a CPU with VNNI, and the file exported from exactly
    this checkpoint (SHA-256). Otherwise None (a stale export is named in a warning)."""
    if not onnx_path.is_file() or importlib.util.find_spec("onnxruntime") is None or not has_int8_dot_product():
        return None
    loaded = load_onnx(onnx_path)
    if loaded.hparams["source_sha256"] != file_sha256(checkpoint):
        warnings.warn(f"{onnx_path}: not exported from {checkpoint} (re-export it with python -m ocr.reading.export); "
                      "using PyTorch", stacklevel=2)
        return None
    return loaded
