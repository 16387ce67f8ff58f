"""Load images safely and turn them into normalised, height-32 arrays (numpy: reading a
word needs no PyTorch; training wraps them as tensors)."""
from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ocr.messages import first_line

MIN_SIDE = 4
ImageSource = str | Path | Image.Image | np.ndarray


class ImageLoadError(ValueError):
    """An input could not be read as an image; the message names the input."""


class NotAnImageError(ImageLoadError):
    """The input's bytes are no image format Pillow knows (a text file, a PDF...)."""


def describe(source: ImageSource | bytes) -> str:
    """A short name for an input in messages: its path, or what kind of image it is."""
    if isinstance(source, np.ndarray):
        return f"<array {'x'.join(map(str, source.shape))} {source.dtype}>"
    if isinstance(source, Image.Image):
        return getattr(source, "filename", None) or f"<image {source.width}x{source.height} {source.mode}>"
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    return str(source)


def load_image(source: ImageSource | bytes, name: str | None = None, shortest: int | None = None) -> Image.Image:
    """Open a path, encoded bytes, a PIL image or a numpy array, apply EXIF rotation, return
    it as RGB or L.

    Arrays: ``HxW`` (gray), ``HxWx3`` (RGB) or ``HxWx4`` (RGBA), ``uint8`` or float in 0..1.
    ``shortest``: an image whose shorter side is at least twice this is returned reduced by
    the largest whole factor that leaves that side at least ``shortest`` pixels (a JPEG
    decoded at a reduced scale, then :func:`reduced`): a phone photo of a word then takes a
    small part of the memory and decoding time, and smaller images are returned as they are.
    Raises :class:`ImageLoadError` with a one-line reason naming the input (or ``name``).
    """
    name = describe(source) if name is None else name
    try:
        if isinstance(source, np.ndarray):
            image = _from_array(source, name)
        elif isinstance(source, bytes):
            if not source:
                raise ImageLoadError(f"{name}: empty file")
            image = _decoded(io.BytesIO(source), shortest)
        elif isinstance(source, Image.Image):
            image = source
            image.load()
        else:
            path = Path(source)
            if not path.is_file():
                raise ImageLoadError(f"{name}: no such file" if not path.exists() else f"{name}: not a file")
            if path.stat().st_size == 0:
                raise ImageLoadError(f"{name}: empty file")
            image = _decoded(path, shortest)
        if image.getexif().get(ExifTags.Base.Orientation, 1) != 1:  # exif_transpose copies even when not
            image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            image = _to_rgb(image)
        if shortest:
            image = reduced(image, shortest)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise NotAnImageError(f"{name}: not an image file (format not recognised)") from None
    except Image.DecompressionBombError as err:
        raise ImageLoadError(f"{name}: image too large ({err})") from None
    except Exception as err:  # decoders raise many kinds on hostile bytes; all mean "unreadable"
        raise ImageLoadError(f"{name}: unreadable or truncated image ({first_line(err)})") from None
    if min(image.size) < MIN_SIDE:
        w, h = image.size
        raise ImageLoadError(f"{name}: image is {w}x{h} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    return image


def reduced(image: Image.Image, shortest: int) -> Image.Image:
    """``image`` shrunk by the largest whole factor that leaves its shorter side at least
    ``shortest`` pixels (each output pixel the mean of a block: ``Image.reduce``); ``image``
    itself when that factor is 1."""
    factor = min(image.size) // shortest
    return image.reduce(factor) if factor > 1 else image


def _decoded(file: Path | io.BytesIO, shortest: int | None) -> Image.Image:
    """Open and decode ``file``: a JPEG at a reduced scale where ``shortest`` allows
    (:func:`_draft`). Refused as a decompression bomb where the pixels to decode exceed Pillow's
    limit (``Image.MAX_IMAGE_PIXELS``, about 89 megapixels), counted after that reduction: a
    108-megapixel phone photo is read, a PNG as large is not. (Over twice the limit, Pillow
    refuses any file as it opens it.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # judged below, on the pixels decoded
        image = Image.open(file)
    _draft(image, shortest)
    width, height = image.size
    if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        image.close()
        raise Image.DecompressionBombError(f"{width}x{height} pixels to decode, over Pillow's limit of "
                                           f"{Image.MAX_IMAGE_PIXELS}")
    image.load()
    return image


def _draft(image: Image.Image, shortest: int | None) -> None:
    """Have a JPEG decoded at the smallest of its scales (1/2, 1/4, 1/8) that keeps its shorter
    side at least ``shortest`` pixels (other formats: nothing)."""
    if shortest and image.format == "JPEG" and min(image.size) >= 2 * shortest:
        scale = min(image.size) / shortest
        image.draft(image.mode, (math.ceil(image.width / scale), math.ceil(image.height / scale)))


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageLoadError(f"{name}: an image array is HxW, HxWx3 or HxWx4")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.dtype == np.uint8:
        pixels = array
    elif np.issubdtype(array.dtype, np.floating) or array.dtype == np.bool_:
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ImageLoadError(f"{name}: a float image array must hold values in 0..1")
        pixels = np.round(array.astype(np.float64) * 255).astype(np.uint8)
    else:
        raise ImageLoadError(f"{name}: an image array must be uint8, or float in 0..1")
    return Image.fromarray(np.ascontiguousarray(pixels))  # L, RGB or RGBA by its shape


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit integer or float gray
        low, high = image.getextrema()
        if image.mode == "F" and high <= 1.0:  # floats in 0..1
            return image.point(lambda v: v * 255).convert("L")
        scale = 1 if high <= 255 else (257 if high <= 65535 else 2 ** 24)  # 8-, 16- or 32-bit range
        return image.point(lambda v: v / scale).convert("L")
    return image.convert("RGB")


# an image is loaded reduced while its shorter side keeps at least this many times the model's
# input height (load_image's shortest): a folder of phone photos no longer fills the memory
# (a 12-megapixel photo took 36 MB) and a JPEG decodes at a fraction of the cost; smaller
# images (every benchmark crop) are loaded as they are
LOAD_SIDE = 4


class Preprocess:
    """Resize to ``height`` keeping the aspect ratio, clamp the width, normalise to [-1, 1].

    Images wider than ``max_width`` after resizing are squeezed to it; narrower than
    ``min_width`` are stretched to it.
    """

    def __init__(self, height: int = 32, min_width: int = 32, max_width: int = 256, channels: int = 1) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.height, self.min_width, self.max_width, self.channels = height, min_width, max_width, channels

    def load(self, source: ImageSource | bytes, name: str | None = None) -> Image.Image:
        """``source`` loaded (:func:`load_image`) reduced while its shorter side keeps
        :data:`LOAD_SIDE` times this height: what reading and training both resize from."""
        return load_image(source, name, shortest=LOAD_SIDE * self.height)

    def target_width(self, width: int, height: int, stretch: float = 1.0) -> int:
        """The width an image of this size is resized to (``stretch`` times wider, then clamped)."""
        return int(min(self.max_width, max(self.min_width, round(stretch * width * self.height / height))))

    def __call__(self, image: Image.Image) -> tuple[np.ndarray, float]:
        """The image as ``float32`` ``(C, height, w)`` and the horizontal scale factor applied."""
        pixels, scale = self.pixels(image)
        return normalize(pixels), scale

    def pixels(self, image: Image.Image, stretch: float = 1.0) -> tuple[np.ndarray, float]:
        """The resized image as ``uint8`` ``(C, height, w)``, before :func:`normalize`, and the
        horizontal scale factor applied (a batch is cheaper to normalise at once); ``stretch``:
        made that much wider than its aspect ratio gives."""
        image = image.convert("L" if self.channels == 1 else "RGB")
        width = self.target_width(*image.size, stretch)
        scale = width / image.size[0]
        image = image.resize((width, self.height), Image.Resampling.BILINEAR)
        data = np.asarray(image, dtype=np.uint8).reshape(self.height, width, self.channels)
        return data.transpose(2, 0, 1), scale


def normalize(pixels: np.ndarray) -> np.ndarray:
    """``uint8`` pixels (any shape) to the model's input range, [-1, 1], as ``float32``."""
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def normalized_batch(pixels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``uint8`` ``(C, H, w)`` images (:meth:`Preprocess.pixels`) right-padded to a common width
    and normalised in one pass: ``float32`` ``(B, C, H, W)`` whose padding is 0, and the
    ``int64`` widths ``(B,)``."""
    widths = np.array([p.shape[-1] for p in pixels], dtype=np.int64)
    batch = np.zeros((len(pixels), *pixels[0].shape[:-1], int(widths.max())), dtype=np.float32)
    for row, p in zip(batch, pixels):
        row[..., : p.shape[-1]] = normalize(p)
    return batch, widths
