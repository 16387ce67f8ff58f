"""The Python API that predict.py and evaluate.py are built on."""
import gc
import threading
import time
import weakref

import numpy as np
import pytest
import torch
from PIL import Image

from ocr import CheckpointError, ImageLoadError, Prediction, Recognizer
from ocr.data.batch import pad_images
from ocr.data.transforms import Preprocess, load_image, normalized_batch
from ocr.reading.recognizer import MIN_BATCH, SORT_WINDOW_BATCHES, width_groups
from ocr.reading.second_look import SecondLook
from tests.conftest import SAMPLES, phone_photo


def test_read_accepts_paths_and_pil_images(tiny_checkpoint):
    rec = Recognizer.load(tiny_checkpoint, batch_size=2)
    paths = sorted(SAMPLES.glob("*.png"))
    images = [Image.open(p) for p in paths]
    from_paths, from_images = rec.read(paths), rec.read(images)
    assert len(from_paths) == len(paths) and all(isinstance(p, Prediction) for p in from_paths)
    assert [p.text for p in from_paths] == [p.text for p in from_images]
    assert all(0.0 <= p.confidence <= 1.0 for p in from_paths)


def test_batching_does_not_change_predictions(tiny_checkpoint):
    paths = sorted(SAMPLES.glob("*.*g")) * 3  # with batch size 1, more than one sorting window
    assert len(paths) > SORT_WINDOW_BATCHES
    one = Recognizer.load(tiny_checkpoint, batch_size=1, precision="fp32").read(paths)
    many = Recognizer.load(tiny_checkpoint, batch_size=64, precision="fp32").read(paths)
    rec = Recognizer.load(tiny_checkpoint, precision="fp32")
    alone = [rec.read(path)[0].text for path in paths]
    assert [p.text for p in one] == [p.text for p in many] == alone  # in input order


def test_words_of_every_width_are_batched_narrow_to_wide_and_words_of_one_width_by_size():
    same = width_groups([100] * 64, most=32)
    assert [len(g) for g in same] == [32, 32]
    mixed = sorted(np.random.default_rng(0).integers(20, 400, 64).tolist())
    groups = width_groups(mixed, most=32)
    assert [k for g in groups for k in g] == list(range(64))  # every word once, in order
    assert len(groups) > 2 and all(len(g) >= MIN_BATCH for g in groups[:-1])
    padding = sum(len(g) * mixed[g[-1]] for g in groups) / sum(mixed)
    halves = sum(32 * max(mixed[k] for k in g) for g in (range(32), range(32, 64))) / sum(mixed)
    assert padding < halves  # less of each batch is padding than in two halves


def test_workers_run_ahead_and_results_come_in_order(tiny_checkpoint):
    from ocr.reading.torch_backend import TorchModel

    rec = Recognizer.load(tiny_checkpoint, backend="torch", precision="fp32")
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((2, 1, 32, w)).astype(np.float32), np.array([w, w])) for w in (40, 64, 96, 128, 72)]
    made = []
    makers = [lambda batch=batch: made.append(batch) or batch for batch in batches]
    streamed = list(TorchModel(rec.model, threads=2).stream(makers))
    with torch.inference_mode():
        alone = [rec.model(torch.from_numpy(x), torch.from_numpy(w)).numpy() for x, w in batches]
    assert [id(b) for b in made] == [id(b) for b in batches]  # each made once, in order
    assert [id(batch) for batch, _ in streamed] == [id(b) for b in batches]
    assert all(np.allclose(out, a, atol=1e-5) for (_, out), a in zip(streamed, alone))


def test_a_recognizer_no_longer_used_is_freed_with_its_worker_threads(tiny_checkpoint):
    before = threading.active_count()
    rec = Recognizer.load(tiny_checkpoint, backend="torch", precision="fp32")
    rec.read([Image.new("L", (width, 32), 255) for width in [40] * 8 + [200] * 8])  # two batches: workers
    assert rec._run_model.pool is not None
    model = weakref.ref(rec._run_model)
    del rec
    gc.collect()
    assert model() is None
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before


def test_pytorch_batches_are_read_by_single_threaded_workers_as_by_the_whole_model(tiny_checkpoint):
    # one OpenMP team per batch stalls on a busy CPU; single-threaded workers side by side do not
    from ocr.reading.torch_backend import TorchModel

    rec = Recognizer.load(tiny_checkpoint, backend="torch", precision="fp32")
    paths = sorted(SAMPLES.glob("*.*g"))
    images, widths = normalized_batch([rec.preprocess.pixels(Image.open(p))[0] for p in paths])
    calls = []

    class Probe(torch.nn.Module):
        def forward(self, part, part_widths):
            calls.append((threading.get_ident(), torch.get_num_threads(), torch.is_inference_mode_enabled(),
                          part.shape[0]))
            return rec.model(part, part_widths)

    with torch.inference_mode():
        expected = rec.model(torch.from_numpy(images), torch.from_numpy(widths))
    got = TorchModel(Probe(), threads=2)(images, widths)
    assert torch.allclose(torch.from_numpy(got), expected, atol=1e-5)
    assert len(calls) == 2 and sum(size for *_, size in calls) == len(paths)  # two parts, on worker threads
    assert threading.get_ident() not in {ident for ident, *_ in calls}
    assert all(threads == 1 and inference for _, threads, inference, _ in calls)
    one_by_one = Recognizer.load(tiny_checkpoint, backend="torch", precision="fp32", batch_size=1).read(paths)
    assert [p.confidence for p in rec.read(paths)] == pytest.approx([p.confidence for p in one_by_one], abs=1e-5)


def test_a_call_of_fewer_words_than_a_batch_is_read_in_parts_side_by_side(tiny_checkpoint):
    # the few words of a second look or of unbending, or a short call, keep both cores busy
    from ocr.reading.torch_backend import TorchModel

    rec = Recognizer.load(tiny_checkpoint, backend="torch", precision="fp32", second_look=False, unbend=False)
    network, calls = rec.model, []

    class Probe(torch.nn.Module):
        def forward(self, part, part_widths):
            calls.append((threading.get_ident(), part.shape[0]))
            return network(part, part_widths)

    expected = [p.text for p in rec.read([Image.new("L", (64, 32), 255)] * 6)]
    rec._run_model = TorchModel(Probe(), threads=2)
    assert [p.text for p in rec.read([Image.new("L", (64, 32), 255)] * 6)] == expected
    assert sorted(size for _, size in calls) == [3, 3]
    assert threading.get_ident() not in {ident for ident, _ in calls}


def test_batch_normalisation_equals_per_image_normalisation():
    preprocess = Preprocess(max_width=256)
    images = [Image.open(p) for p in sorted(SAMPLES.glob("*.*g"))]
    expected, expected_widths = pad_images([torch.from_numpy(preprocess(im)[0]) for im in images])  # as training
    batch, widths = normalized_batch([preprocess.pixels(im)[0] for im in images])  # as reading
    assert widths.tolist() == expected_widths.tolist()
    assert torch.equal(torch.from_numpy(batch), expected)


def test_read_names_the_bad_input(tiny_checkpoint, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    with pytest.raises(ImageLoadError, match="bad.jpg: not an image"):
        Recognizer.load(tiny_checkpoint).read([SAMPLES / "simply.jpg", bad])


def test_checkpoint_of_another_kind_is_refused(tmp_path):
    import torch

    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"lr": 1}}, path)
    with pytest.raises(CheckpointError, match="not an ocr checkpoint"):
        Recognizer.load(path)


@pytest.mark.parametrize(("backend", "precision"), [("torch", "bf16"), ("torch", "int8"), ("onnx", "int8")])
def test_reduced_precision_reads_like_fp32(backend, precision):
    paths = sorted(SAMPLES.glob("*.*g"))  # the network alone: a second opinion asked or not would add its own change
    full = Recognizer.load(precision="fp32", second_opinion=None).read(paths)
    reduced = Recognizer.load(backend=backend, precision=precision, second_opinion=None).read(paths)
    assert sum(a.text == b.text for a, b in zip(full, reduced)) >= len(paths) - 1
    assert all(abs(a.confidence - b.confidence) < 0.2 for a, b in zip(full, reduced) if a.text == b.text)


def test_precisions_a_backend_cannot_run_are_refused(tmp_path):
    from ocr.assets import DEFAULT_MODEL
    from ocr.reading.export import export

    with pytest.raises(ValueError, match="bf16 needs the torch backend"):
        Recognizer.load(backend="onnx", precision="bf16")
    onnx_file = export(DEFAULT_MODEL, "onnx", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="keeps the precision it was exported with"):
        Recognizer.load(onnx_file, precision="int8")
    with pytest.raises(ValueError, match="precision must be one of"):
        Recognizer.load(precision="fp8")


@pytest.mark.parametrize("kernels, shipped_file", [("vnni", "default.int8.onnx"), ("avx2", "default.int8-7bit.onnx")])
def test_auto_backend_runs_the_shipped_int8_export_for_the_cpu(kernels, shipped_file, monkeypatch):
    import ocr.reading.backends
    from ocr.assets import DEFAULT_MODEL, DEFAULT_SECOND_OPINION
    from ocr.reading.backends import OnnxModel, int8_export_of
    from ocr.reading.loaded import file_sha256

    for checkpoint in (DEFAULT_MODEL, DEFAULT_SECOND_OPINION):  # both shipped networks have both exports
        export = int8_export_of(checkpoint, kernels)
        assert ocr.reading.backends.load_onnx(export).hparams["source_sha256"] == file_sha256(checkpoint)
    assert int8_export_of(DEFAULT_MODEL, kernels).name == shipped_file
    monkeypatch.setattr(ocr.reading.backends, "int8_kernels", lambda: kernels)
    loaded = []
    load_onnx = ocr.reading.backends.load_onnx
    monkeypatch.setattr(ocr.reading.backends, "load_onnx", lambda path: loaded.append(path.name) or load_onnx(path))
    fast = Recognizer.load(backend="auto", precision="auto")
    assert isinstance(fast.model, OnnxModel) and fast.precision == "int8" and loaded[0] == shipped_file
    paths = sorted(SAMPLES.glob("*.*g"))
    full = Recognizer.load(precision="fp32").read(paths)
    assert sum(a.text == b.text for a, b in zip(full, fast.read(paths))) >= len(paths) - 1


def test_auto_backend_reads_with_pytorch_where_no_int8_export_suits_the_cpu(monkeypatch):
    import ocr.reading.backends
    from ocr.reading.backends import OnnxModel

    monkeypatch.setattr(ocr.reading.backends, "int8_kernels", lambda: None)  # not x86: PyTorch
    assert not isinstance(Recognizer.load(backend="auto", precision="auto").model, OnnxModel)


def test_auto_backend_ignores_an_export_of_another_checkpoint(tiny_checkpoint, tmp_path, monkeypatch):
    import shutil

    import ocr.reading.backends
    from ocr.assets import DEFAULT_MODEL
    from ocr.reading.backends import int8_export_of

    monkeypatch.setattr(ocr.reading.backends, "int8_kernels", lambda: "vnni")
    checkpoint = tmp_path / "mine.ckpt"
    shutil.copy(tiny_checkpoint, checkpoint)
    shutil.copy(int8_export_of(DEFAULT_MODEL), tmp_path / "mine.int8.onnx")
    with pytest.warns(UserWarning, match="mine.int8.onnx: not exported from"):
        rec = Recognizer.load(checkpoint, backend="auto", precision="auto")
    assert isinstance(rec.model, torch.nn.Module)


def test_read_takes_one_input_or_many_and_numpy_arrays_of_every_documented_kind():
    rec = Recognizer.load(decoder="greedy")
    photo = Image.open(SAMPLES / "simply.jpg")
    gray = np.asarray(photo.convert("L"))
    rgba = np.dstack([np.asarray(photo.convert("RGB")), np.full(gray.shape, 255, np.uint8)])
    inputs = [str(SAMPLES / "simply.jpg"), SAMPLES / "simply.jpg", photo, gray, gray[..., None],
              np.asarray(photo.convert("RGB")), rgba, gray / 255.0, gray.astype(np.float32) / 255,
              Image.fromarray(gray.astype(np.float32) / 255, mode="F"), photo.convert("L").convert("I")]
    assert [p.text for p in rec.read(inputs)] == ["simply"] * len(inputs)
    for single in inputs[:4]:
        assert [p.text for p in rec.read(single)] == ["simply"]  # not its characters or rows


def test_a_photo_far_larger_than_its_word_needs_is_loaded_reduced_and_read_alike(tmp_path):
    # a phone photo of a word took its full size in memory per image: a folder of them ran out
    big = phone_photo()
    big.save(tmp_path / "photo.jpg", quality=92)
    big.save(tmp_path / "photo.png")
    for name in ("photo.jpg", "photo.png"):  # a JPEG decoded at a reduced scale, a PNG reduced after
        loaded = load_image(tmp_path / name, shortest=128)
        assert 128 <= min(loaded.size) < 256
        assert abs(loaded.width / loaded.height - big.width / big.height) < 0.02
    for path in SAMPLES.glob("*.*g"):  # smaller images come as they are, pixel for pixel
        assert load_image(path, shortest=128).tobytes() == load_image(path).tobytes()
    rec = Recognizer.load(decoder="greedy")
    assert [p.text for p in rec.read([tmp_path / "photo.jpg", tmp_path / "photo.png", big])] == ["Street"] * 3


@pytest.mark.parametrize("array, reason", [
    (np.zeros((8, 8, 7), np.uint8), "an image array is HxW, HxWx3 or HxWx4"),
    (np.full((8, 8), 2.0), "a float image array must hold values in 0..1"),
    (np.zeros((8, 8), np.int64), "an image array must be uint8, or float in 0..1"),
])
def test_a_bad_array_is_named_by_its_shape_not_printed(array, reason):
    with pytest.raises(ImageLoadError) as err:
        Recognizer.load(decoder="greedy").read(array)
    shape = "x".join(map(str, array.shape))
    assert str(err.value) == f"<array {shape} {array.dtype}>: {reason}"


def test_only_unsure_readings_from_crowded_steps_get_a_second_look():
    look = SecondLook(threshold=0.5, steps_per_char=2.5, stretch=1.5)
    unsure = Prediction("Street", 0.3)
    assert look.wants(unsure, steps=14) and not look.wants(unsure, steps=15)  # 15 steps suffice for 6 letters
    assert not look.wants(Prediction("Street", 0.6), steps=10)


def test_a_second_look_keeps_the_more_confident_reading(tiny_checkpoint):
    images = [Image.open(p) for p in sorted(SAMPLES.glob("*.*g"))]
    rec = Recognizer.load(tiny_checkpoint, precision="fp32", second_look=False)
    first = rec.read(images)
    rec.second_look = SecondLook(threshold=2.0, steps_per_char=100.0, stretch=1.5)  # every word read again
    second = rec.read(images)
    assert all(b.confidence >= a.confidence for a, b in zip(first, second))
    assert all(b == a for a, b in zip(first, second) if b.confidence == a.confidence)


def test_a_second_opinion_averages_only_the_unsure_words_steps():
    from concurrent.futures import Future

    from ocr.reading.second_opinion import SecondOpinion

    def log_softmax(x):
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    sure = np.array([[0.0, 9.0, 0.0], [9.0, 0.0, 0.0]])  # "a", then a blank: confidence 0.9998
    unsure = np.array([[0.0, 0.5, 0.4], [0.3, 0.0, 0.2]])
    first = log_softmax(np.stack([sure, unsure], axis=1)).astype(np.float32)  # (T=2, B=2, C=3)
    opinion = log_softmax(np.zeros((2, 1, 3))).astype(np.float32)
    calls = []

    class Second:
        def submit(self, pixels, widths):
            calls.append(pixels.copy())
            done = Future()
            done.set_result(opinion)
            return done

    pixels, widths = np.stack([np.zeros((1, 32, 8)), np.ones((1, 32, 8))]).astype(np.float32), np.array([8, 8])
    look = SecondOpinion(Second(), threshold=0.5)
    revision, asked = look.ask(pixels, widths, first, np.array([0.9998, 0.3]))  # their best paths' confidences
    revised = revision()
    assert asked.tolist() == [False, True]
    assert len(calls) == 1 and np.array_equal(calls[0], pixels[1:])  # the sure word is not read again
    assert np.array_equal(revised[:, 0], first[:, 0]) and look.words_read == 1
    assert np.allclose(revised[:, 1], log_softmax((first[:, 1] + opinion[:, 0]) / 2), atol=1e-6)


def test_a_model_is_its_own_second_opinion_and_another_charset_is_refused(tiny_checkpoint, tmp_path):
    from ocr.reading.second_opinion import SecondOpinion

    images = [Image.open(p) for p in sorted(SAMPLES.glob("*.*g"))]
    alone = Recognizer.load(tiny_checkpoint, precision="fp32")
    assert alone.second_opinion is None  # auto: only the shipped model has one
    twice = Recognizer.load(tiny_checkpoint, precision="fp32", second_opinion=tiny_checkpoint)
    assert isinstance(twice.second_opinion, SecondOpinion)
    assert [p.text for p in twice.read(images)] == [p.text for p in alone.read(images)]
    assert twice.second_opinion.words_read > 0  # a barely trained model is unsure of every word
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    chars = ckpt["hyper_parameters"]["charset"]["chars"]
    torch.save(dict(ckpt, hyper_parameters={**ckpt["hyper_parameters"], "charset": {"chars": chars[::-1]}}),
               tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match=f"^{tmp_path / 'other.ckpt'}: a second opinion needs the first model's charset"):
        Recognizer.load(tiny_checkpoint, second_opinion=tmp_path / "other.ckpt")
