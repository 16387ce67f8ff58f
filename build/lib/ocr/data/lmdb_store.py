"""LMDB datasets in the layout of deep-text-recognition-benchmark, plus optional extents.

Keys (1-based ``n``): ``image-%09d`` encoded image bytes, ``label-%09d`` UTF-8 label,
``num-samples``; this project adds ``extents-%09d``: JSON ``[[left, right], ...]`` pixel
columns of each character in the stored image (for ``loss=ce``), and ``sizes``: every
image's width and height as little-endian uint16 pairs (for batching by width).
"""
from __future__ import annotations

import io
import json
import logging
import os
import sys
from array import array
from collections.abc import Iterable
from pathlib import Path

from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from ocr.data.batch import Example, Extents
from ocr.data.transforms import ImageLoadError, Preprocess, load_image
from ocr.text.charset import Charset

log = logging.getLogger(__name__)
MAP_SIZE = 1 << 40  # address space only; the file grows as written


_ENVIRONMENTS: dict[tuple[int, str], object] = {}


def _close_inherited() -> None:
    """In a forked child (a DataLoader worker): close the parent's environments, which LMDB
    would otherwise count as open here and refuse to open again (the parent's stay open)."""
    for key in [k for k in _ENVIRONMENTS if k[0] != os.getpid()]:
        _ENVIRONMENTS.pop(key).close()


os.register_at_fork(after_in_child=_close_inherited)


def _environment(path: Path):
    """One read-only environment per LMDB and process (LMDB refuses to open one twice)."""
    import lmdb

    key = (os.getpid(), str(path.resolve()))
    if key not in _ENVIRONMENTS:
        _ENVIRONMENTS[key] = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
    return _ENVIRONMENTS[key]


def _key(kind: str, n: int) -> bytes:
    return f"{kind}-{n:09d}".encode()


def write_lmdb(path: str | Path, samples: Iterable[tuple[Image.Image, str, Extents | None]], total: int,
               commit_every: int = 1000) -> int:
    """Write ``(image, label, extents)`` samples as PNG into a new LMDB at ``path``; returns the count."""
    import lmdb

    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"{path}: already exists and is not empty")
    env = lmdb.open(str(path), map_size=MAP_SIZE)
    n = 0
    sizes = array("H")
    txn = env.begin(write=True)
    try:
        for image, label, extents in tqdm(samples, total=total, unit="img", desc=f"writing {path.name}"):
            n += 1
            buf = io.BytesIO()
            image.save(buf, "PNG", compress_level=1)
            txn.put(_key("image", n), buf.getvalue())
            sizes.extend((min(image.width, 65535), min(image.height, 65535)))
            txn.put(_key("label", n), label.encode("utf-8"))
            if extents is not None:
                txn.put(_key("extents", n), json.dumps([[round(a, 1), round(b, 1)] for a, b in extents]).encode())
            if n % commit_every == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.put(b"num-samples", str(n).encode())
        txn.put(b"sizes", _little_endian(sizes).tobytes())
        txn.commit()
    finally:
        env.close()
    return n


def _little_endian(values: array) -> array:
    """``values`` in little-endian order (stored that way; swapping is its own inverse)."""
    if sys.byteorder == "big":
        values.byteswap()
    return values


def _sizes(raw: bytes | None, count: int) -> array | None:
    if raw is None:
        return None
    sizes = _little_endian(array("H", raw))
    return sizes if len(sizes) == 2 * count else None


class LmdbWords(Dataset):
    """Samples of one LMDB folder; labels are normalised into ``charset`` when read.

    A sample whose image is unreadable or whose label has no character in the charset is
    replaced by the next one (with a warning), so one bad record never stops training.
    """

    def __init__(self, path: str | Path, charset: Charset, preprocess: Preprocess) -> None:
        self.path, self.charset, self.preprocess = Path(path), charset, preprocess
        if not (self.path / "data.mdb").is_file():
            raise FileNotFoundError(f"{self.path}: not an LMDB folder (no data.mdb)")
        with _environment(self.path).begin() as txn:
            self.size = int(txn.get(b"num-samples") or 0)
            self.has_extents = txn.get(_key("extents", 1)) is not None
            self.sizes = _sizes(txn.get(b"sizes"), self.size)
        if self.size == 0:
            raise ValueError(f"{self.path}: LMDB holds no samples (num-samples missing or 0)")

    def __len__(self) -> int:
        return self.size

    @property
    def widths(self) -> list[int] | None:
        """Each sample's width after preprocessing, when the LMDB records sizes (ours do)."""
        if self.sizes is None:
            return None
        return [self.preprocess.target_width(w, h) for w, h in zip(self.sizes[::2], self.sizes[1::2])]

    def __getitem__(self, index: int) -> Example:
        env = _environment(self.path)
        for offset in range(min(self.size, 100)):
            n = (index + offset) % self.size + 1
            with env.begin() as txn:
                data, raw = txn.get(_key("image", n)), txn.get(_key("label", n))
                extents = txn.get(_key("extents", n))
            try:
                example = self._example(n, data, raw, extents)
            except (ImageLoadError, ValueError) as err:
                log.warning("%s: skipping record %d: %s", self.path, n, err)
                continue
            return example
        raise ValueError(f"{self.path}: no usable record near index {index}")

    def _example(self, n: int, data: bytes | None, raw: bytes | None, extents: bytes | None) -> Example:
        if data is None or raw is None:
            raise ValueError("missing image or label")
        image = load_image(data, f"record {n}")
        label = self.charset.normalize(raw.decode("utf-8"))
        if not label:
            raise ValueError(f"no character of label {raw.decode('utf-8')!r} is in the charset")
        tensor, scale = self.preprocess(image)
        spans = None
        if extents is not None:
            spans = [(a * scale, b * scale) for a, b in json.loads(extents)]
            if len(spans) != len(label):  # the charset dropped characters: alignment is lost
                raise ValueError("label changed length under the charset; extents no longer fit")
        return Example(tensor, label, spans)
