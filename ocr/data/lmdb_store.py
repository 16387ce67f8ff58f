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
import struct
import sys
from array import array
from collections.abc import Iterable
from pathlib import Path

import lmdb
import torch
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
    key = (os.getpid(), str(path.resolve()))
    if key not in _ENVIRONMENTS:
        check_data_file(path / "data.mdb")
        try:
            _ENVIRONMENTS[key] = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
        except lmdb.Error as err:
            raise unreadable(path, err) from None
    return _ENVIRONMENTS[key]


class CorruptLmdbError(ValueError):
    """An LMDB folder whose data file is damaged (truncated, overwritten, not an LMDB)."""


def unreadable(path: Path, err: lmdb.Error) -> CorruptLmdbError:
    """The one-line error for an LMDB folder that LMDB itself refuses to read."""
    return CorruptLmdbError(f"{path}: not a readable LMDB ({type(err).__name__}: {err})")


# LMDB's meta page (lmdb.h, mdb.c): a 16-byte page header, magic and version (uint32 each),
# address and map size (8 bytes each), two 48-byte database records (the first one's first
# uint32 is the page size), then the last used page and the transaction id (uint64 each)
META_MAGIC, META_VERSION = 0xBEEFC0DE, 1
PAGE_SIZE_OFFSET = 16 + 4 + 4 + 8 + 8
LAST_PAGE = struct.Struct("<QQ")
LAST_PAGE_OFFSET = PAGE_SIZE_OFFSET + 2 * 48


def check_data_file(path: Path) -> None:
    """Refuse an LMDB data file that LMDB would crash on, before it is mapped: too short for
    its two meta pages, meta pages that are not LMDB's, or shorter than the last page the
    newest meta page says is in use (a truncated copy: reading past the end of a mapped
    file kills the process with SIGBUS)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError as err:
        raise CorruptLmdbError(f"{path.parent}: {path.name} cannot be read ({err.strerror})") from None
    metas = []
    for page_size in (4096, 8192, 16384, 32768, 65536):  # meta page 0 is at 0, meta page 1 at page_size
        pages = [head[offset : offset + page_size] for offset in (0, page_size)]
        if len(pages[1]) < LAST_PAGE_OFFSET + LAST_PAGE.size:
            break
        valid = [page for page in pages if struct.unpack_from("<II", page, 16) == (META_MAGIC, META_VERSION)]
        stored = struct.unpack_from("<I", valid[0], PAGE_SIZE_OFFSET)[0] if valid else 0
        if valid and stored == page_size:
            metas = [LAST_PAGE.unpack_from(page, LAST_PAGE_OFFSET) for page in valid]
            break
    if not metas:
        raise CorruptLmdbError(f"{path.parent}: {path.name} is not an LMDB data file ({size:,} bytes, no LMDB meta page)")
    last_page, _ = max(metas, key=lambda meta: meta[1])  # the newest transaction's
    if size < (last_page + 1) * page_size:
        raise CorruptLmdbError(f"{path.parent}: {path.name} is truncated ({size:,} bytes; its last page, "
                               f"{last_page:,}, ends at {(last_page + 1) * page_size:,})")


def _key(kind: str, n: int) -> bytes:
    return f"{kind}-{n:09d}".encode()


def check_new_folder(path: Path) -> None:
    """Raise ``FileExistsError`` if ``path`` exists and holds anything: an LMDB is never written over."""
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"{path}: already exists and is not empty")


def write_lmdb(path: str | Path, samples: Iterable[tuple[Image.Image, str, Extents | None]], total: int,
               commit_every: int = 1000) -> int:
    """Write ``(image, label, extents)`` samples as PNG into a new LMDB at ``path`` (its parent
    folders made as needed); returns the count."""
    path = Path(path)
    check_new_folder(path)
    path.mkdir(parents=True, exist_ok=True)
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

    A record that cannot be used (damaged pages, an unreadable image, a label with no
    character in the charset) is replaced by the next one, with a warning, and counted in
    ``skipped``: one bad record never stops training. A damaged data file (truncated,
    overwritten meta pages, not an LMDB) is refused at open with a
    :class:`CorruptLmdbError` naming the folder.
    """

    def __init__(self, path: str | Path, charset: Charset, preprocess: Preprocess) -> None:
        self.path, self.charset, self.preprocess = Path(path), charset, preprocess
        if not (self.path / "data.mdb").is_file():
            raise FileNotFoundError(f"{self.path}: not an LMDB folder (no data.mdb)")
        try:
            with _environment(self.path).begin() as txn:
                count = txn.get(b"num-samples") or b"0"
                self.has_extents = txn.get(_key("extents", 1)) is not None
                sizes = txn.get(b"sizes")
        except lmdb.Error as err:
            raise unreadable(self.path, err) from None
        if not count.isdigit():
            raise CorruptLmdbError(f"{self.path}: num-samples is not a number ({count[:20]!r})")
        self.size = int(count)
        self.sizes = _sizes(sizes, self.size)
        self.skipped = 0  # records skipped as unreadable, in this process
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
            try:
                with env.begin() as txn:
                    data, raw = txn.get(_key("image", n)), txn.get(_key("label", n))
                    extents = txn.get(_key("extents", n))
                return self._example(n, data, raw, extents)
            except (ImageLoadError, ValueError, lmdb.Error) as err:
                self.skipped += 1
                log.warning("%s: skipping record %d (%d skipped so far): %s", self.path, n, self.skipped, err)
        raise CorruptLmdbError(f"{self.path}: no usable record near index {index}")

    def _example(self, n: int, data: bytes | None, raw: bytes | None, extents: bytes | None) -> Example:
        if data is None or raw is None:
            raise ValueError("missing image or label")
        image = load_image(data, f"record {n}")
        label = self.charset.normalize(raw.decode("utf-8"))
        if not label:
            raise ValueError(f"no character of label {raw.decode('utf-8')!r} is in the charset")
        pixels, scale = self.preprocess(image)
        spans = None
        if extents is not None:
            spans = [(a * scale, b * scale) for a, b in json.loads(extents)]
            if len(spans) != len(label):  # the charset dropped characters: alignment is lost
                raise ValueError("label changed length under the charset; extents no longer fit")
        return Example(torch.from_numpy(pixels), label, spans)
