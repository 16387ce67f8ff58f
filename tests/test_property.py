"""Random bytes and random small images never raise anything but ImageLoadError."""
import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ocr import ImageLoadError, Recognizer
from ocr.data.transforms import load_image

MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "LA"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".png", ".jpg", ".bin"]))
def test_random_bytes_load_or_raise_image_load_error(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    try:
        load_image(path)
    except ImageLoadError:
        pass


@st.composite
def small_images(draw) -> Image.Image:
    w, h = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    mode = draw(st.sampled_from(MODES))
    seed = draw(st.integers(0, 2**16))
    pixels = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB")
    return image.convert(mode) if mode not in ("I;16",) else image.convert("L").convert("I;16")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(images=st.lists(small_images(), min_size=1, max_size=4), as_png=st.booleans())
def test_recognizer_reads_random_images_or_raises_image_load_error(tiny_checkpoint, images, as_png):
    rec = _recognizer(tiny_checkpoint)
    if as_png:
        buffers = []
        for image in images:
            buf = io.BytesIO()
            image.save(buf, "TIFF")  # TIFF stores every mode drawn here
            buffers.append(Image.open(io.BytesIO(buf.getvalue())))
        images = buffers
    try:
        predictions = rec.read(images)
    except ImageLoadError:
        return
    assert len(predictions) == len(images) and all(0.0 <= p.confidence <= 1.0 for p in predictions)


_cache: dict = {}


def _recognizer(path) -> Recognizer:
    if path not in _cache:
        _cache[path] = Recognizer.load(path)
    return _cache[path]
