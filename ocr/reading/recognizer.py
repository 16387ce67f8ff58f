"""Read words from images with a trained model: the API predict.py and evaluate.py share.

PyTorch is imported only when PyTorch runs the network: with the shipped int8 export
(onnxruntime), reading starts without it."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ocr.assets import DEFAULT_LM, DEFAULT_MODEL, DEFAULT_SECOND_OPINION
from ocr.data.transforms import ImageLoadError, ImageSource, Preprocess, normalized_batch
from ocr.geometry import column_step, num_frames
from ocr.reading.backends import BACKENDS, OnnxModel, SplitModel, fast_int8, load_as_onnx, load_onnx
from ocr.reading.lines import batch_word_gaps, insert_spaces
from ocr.reading.loaded import LoadedModel
from ocr.reading.second_look import SecondLook, in_steps_of
from ocr.reading.second_opinion import Revision, SecondOpinion, as_read, check_compatible
from ocr.reading.unbend import Unbend
from ocr.text.decoders import Decoder, build_decoder
from ocr.text.decoding import BestPaths, Prediction, greedy_decode

SINGLE_INPUTS = (str, Path, bytes, Image.Image, np.ndarray)  # one image, not a collection of them
MAX_LINE_WIDTH = 4096  # pixels at the model's height; wider inputs are squeezed to it
PRECISIONS = ("fp32", "bf16", "int8", "auto")
# images are loaded this many batches at a time and sorted by width before batching: words of
# similar width share a batch, so little of it is padding (1.08x the useful columns on the
# benchmark words, against 1.73x when each batch of 64 is sorted on its own)
SORT_WINDOW_BATCHES = 16
# a batch ends before a word this much wider than its first, once it holds MIN_BATCH words:
# a call with words of every width is read in several narrow-to-wide batches
WIDTH_TOLERANCE = 0.25
MIN_BATCH = 8
# an image at least this many times as tall as wide may hold a word written along its height
# (1.5: 3 more of the 673 held-out real crops read right than at 2; docs/default_model.md)
TALL = 1.5


def orientations(image: Image.Image) -> list[Image.Image]:
    """The image, plus both quarter turns when it is at least :data:`TALL` times as tall as wide."""
    if image.height < TALL * image.width:
        return [image]
    return [image, image.transpose(Image.Transpose.ROTATE_90), image.transpose(Image.Transpose.ROTATE_270)]


def load_network(path: Path, backend: str, precision: str) -> tuple[LoadedModel, str]:
    """The model file ``path`` loaded as :meth:`Recognizer.load` describes for ``backend`` and
    ``precision``, and the precision to run it in (``auto`` for an int8 export found beside it)."""
    if backend == "auto" and path.suffix != ".onnx" and precision in ("auto", "int8"):
        if (fast := fast_int8(path)) is not None:
            return fast, "auto"  # the export runs in the precision it was made with
    if path.suffix == ".onnx":
        if precision == "int8":
            raise ValueError(f"{path}: an ONNX file keeps the precision it was exported with "
                             "(python -m ocr.reading.export --format onnx-int8)")
        return load_onnx(path), precision
    if backend == "onnx":
        return load_as_onnx(path, int8=precision == "int8"), precision
    from ocr.reading.checkpoint import load_model  # torch, or auto without a usable int8 export

    return load_model(path), precision


def runnable(loaded: LoadedModel, precision: str) -> tuple[Any, str]:
    """The network of ``loaded`` ready to read in ``precision``, and the precision it runs in."""
    if not isinstance(loaded.model, OnnxModel):
        from ocr.reading.torch_backend import prepared

        return prepared(loaded.model, precision)
    if precision == "bf16":
        raise ValueError("precision=bf16 needs the torch backend")
    # an onnxruntime model computes in the precision it was exported with
    return loaded.model, loaded.hparams.get("precision", "fp32") if precision == "auto" else precision


def split_model(model: Any, precision: str) -> SplitModel:
    """What runs ``model`` batch by batch, side by side on single-threaded workers."""
    if isinstance(model, OnnxModel):
        return model
    from ocr.reading.torch_backend import TorchModel

    return TorchModel(model, bf16=precision == "bf16")


def second_opinion_path(choice: str | Path | None, checkpoint: Path) -> Path | None:
    """The second model :meth:`Recognizer.load`'s ``second_opinion`` names, if any."""
    if choice is None or str(choice) == "none":
        return None
    if str(choice) == "auto":
        shipped = checkpoint.resolve() == DEFAULT_MODEL.resolve() and DEFAULT_SECOND_OPINION.is_file()
        return DEFAULT_SECOND_OPINION if shipped else None
    return Path(choice)


class Recognizer:
    """A loaded model plus its charset and preprocessing.

    >>> rec = Recognizer.load()                     # the shipped default model
    >>> [p.text for p in rec.read(["data/samples/simply.jpg"])]
    """

    def __init__(self, loaded: LoadedModel, decoder: Decoder, *, batch_size: int = 64, precision: str = "fp32",
                 max_width: int = MAX_LINE_WIDTH, second_look: SecondLook | None = SecondLook(),
                 second_opinion: SecondOpinion | None = None, unbend: Unbend | None = Unbend()) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch size must be a whole number of at least 1, got {batch_size!r}")
        self.charset, self.hparams = loaded.charset, loaded.hparams
        model, precision = runnable(loaded, precision)
        trained = loaded.preprocess
        # the model reads any width: wide inputs (text lines) are not squeezed to the training width
        self.preprocess = Preprocess(trained.height, trained.min_width, max(max_width, trained.max_width),
                                     trained.channels)
        self.spaces_from_gaps = " " not in self.charset.chars
        self.batch_size, self.precision, self.second_look = batch_size, precision, second_look
        self.second_opinion, self.unbend = second_opinion, unbend
        self.decode = decoder
        self.model = model

    @property
    def model(self) -> Any:
        """The network: a PyTorch module or an :class:`~ocr.reading.backends.OnnxModel`."""
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        self._model = model
        self._run_model = split_model(model, self.precision)  # what _predict calls

    @property
    def backend(self) -> str:
        """``torch`` or ``onnxruntime``: what runs the network (``precision`` says in what)."""
        return "onnxruntime" if isinstance(self.model, OnnxModel) else "torch"

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, *, batch_size: int = 64, decoder: str = "lm",
             beam_width: int = 10, lexicon: str | Path | list[str] | None = None,
             backend: str = "auto", precision: str = "auto", max_width: int = MAX_LINE_WIDTH,
             language_model: str | Path = DEFAULT_LM, second_look: bool = True,
             second_opinion: str | Path | None = "auto", unbend: bool = True) -> "Recognizer":
        """Load ``checkpoint`` (default: the shipped model); raises CheckpointError if unusable.

        ``decoder``: ``lm`` (best path; words read with confidence below a threshold searched
        again by a beam search of ``beam_width`` under an English letter model, see
        :class:`ocr.text.decoders.LmDecoder` and :class:`~ocr.text.decoders.LmSettings`),
        ``greedy`` (best path alone: codes, non-English text), ``beam`` (CTC prefix beam search
        of ``beam_width``) or ``lexicon`` (the most probable word of ``lexicon``: a word-list
        file or a list).
        The defaults are the CLIs' (``backend="auto", precision="auto"``: the int8 export where
        it is fastest); ``backend="torch", precision="fp32"`` reads with PyTorch in fp32.
        ``backend``: ``torch``, or ``onnx`` (onnxruntime; a ``.ckpt`` is exported on the fly,
        a ``.onnx`` from ``python -m ocr.reading.export`` is used as is), or ``auto`` (what predict.py
        and evaluate.py use): with precision ``auto`` or ``int8``, the int8 export beside the
        checkpoint for this CPU (``X.ckpt`` -> ``X.int8.onnx`` with VNNI, ``X.int8-7bit.onnx``
        on other x86 CPUs with AVX2; both shipped for the default model,
        :func:`~ocr.reading.backends.fast_int8`) where onnxruntime is installed and the export
        came from this very checkpoint; else PyTorch.
        ``precision``: ``fp32``; ``bf16`` (autocast, PyTorch backend); ``int8``: with PyTorch,
        dynamic quantisation of the RNN and linear layers; with onnxruntime, static
        quantisation of the convolutions and linear layer, calibrated on rendered words,
        and dynamic quantisation of the LSTM (:mod:`ocr.reading.quantization`); or ``auto``: bf16
        where the CPU computes it natively, else fp32.
        An ``.onnx`` file runs in the precision it was exported with.
        ``language_model``: the letter model of the ``lm`` decoder (default: the shipped English
        one; ``python -m ocr.text.build_language_model --language de`` builds others).
        ``max_width``: inputs are resized to the model's height and squeezed only beyond this
        width, so a whole text line is read. When the charset has no space (models trained on
        single words), spaces are put where the gap between two characters is far wider than
        the others (:func:`ocr.reading.lines.insert_spaces`).
        ``second_look``: words read unsure from crowded steps are read again stretched wider
        (:class:`~ocr.reading.second_look.SecondLook`).
        ``second_opinion``: a second model's checkpoint (same charset and input) that reads the
        words read unsure again, the two networks' steps averaged
        (:class:`~ocr.reading.second_opinion.SecondOpinion`), loaded with the same ``backend``
        and ``precision``; ``auto``: the shipped one when reading with the shipped model, else
        none; ``None`` or ``none``: none.
        ``unbend``: unsure words that may run along an arc are read again laid straight
        (:class:`~ocr.reading.unbend.Unbend`).
        """
        path = Path(checkpoint or DEFAULT_MODEL)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        loaded, run_precision = load_network(path, backend, precision)
        opinion = None
        if (other := second_opinion_path(second_opinion, path)) is not None:
            second, second_precision = load_network(other, backend, precision)
            check_compatible(loaded, second, other)
            opinion = SecondOpinion(split_model(*runnable(second, second_precision)))
        decode = build_decoder(decoder, loaded.charset, beam_width=beam_width, lexicon=lexicon,
                               language_model=language_model)
        return cls(loaded, decode, batch_size=batch_size, precision=run_precision, max_width=max_width,
                   second_look=SecondLook() if second_look else None, second_opinion=opinion,
                   unbend=Unbend() if unbend else None)

    def read(self, images: ImageSource | Iterable[ImageSource]) -> list[Prediction]:
        """Read images: paths, PIL images or numpy arrays (``HxW``, ``HxWx3``, ``HxWx4``;
        ``uint8`` or float in 0..1), one or an iterable of them; a prediction per image.
        Raises :class:`ImageLoadError` naming the first bad input."""
        predictions = []
        for _, result in self.read_each(images):
            if isinstance(result, ImageLoadError):
                raise result
            predictions.append(result)
        return predictions

    def read_each(self, images: ImageSource | Iterable[ImageSource]
                  ) -> Iterator[tuple[ImageSource, Prediction | ImageLoadError]]:
        """Yield ``(input, prediction or error)`` in input order, batching internally; one
        input or an iterable of them, as :meth:`read` takes. Inputs are read
        ``SORT_WINDOW_BATCHES`` batches at a time and batched by width.

        An image at least :data:`TALL` (1.5) times as tall as wide may hold a word written
        along its height: it is also read turned 90 degrees each way, and the most confident
        reading wins. So does it for the :attr:`second_look` at a word read unsure, and
        for the readings :attr:`unbend` makes of it laid straight.
        """
        it = iter([images] if isinstance(images, SINGLE_INPUTS) else images)
        while chunk := list(islice(it, self.batch_size * SORT_WINDOW_BATCHES)):
            owners: list[int] = []  # input index of each view
            views: list[Image.Image] = []
            results: list[Prediction | ImageLoadError | None] = [None] * len(chunk)
            for i, source in enumerate(chunk):
                try:
                    turns = orientations(self.open_image(source))
                except ImageLoadError as err:
                    results[i] = err
                    continue
                owners += [i] * len(turns)
                views += turns
            seen: dict[int, Image.Image] = {}  # the view each reading came from
            for i, view, prediction in zip(owners, views, self._predict(views)):
                best = results[i]
                if best is None or prediction.confidence > best.confidence:
                    results[i], seen[i] = prediction, view
            if self.second_look:
                self._look_again(results, seen)
            if self.unbend:
                self._read_unbent(results, seen)
            yield from zip(chunk, results)

    def open_image(self, source: ImageSource | bytes, name: str | None = None) -> Image.Image:
        """An input loaded as :meth:`read` loads it (:meth:`~ocr.data.transforms.Preprocess.load`:
        reduced while its shorter side keeps four times the model's input height)."""
        return self.preprocess.load(source, name)

    def _look_again(self, results: list, seen: dict[int, Image.Image]) -> None:
        """Replace the readings the :attr:`second_look` wants with the more confident of
        them and a reading of their view stretched wider."""
        look, target_width = self.second_look, self.preprocess.target_width
        widths = {i: target_width(*view.size) for i, view in seen.items()}
        again = [i for i in seen if look.wants(results[i], num_frames(widths[i]))]
        for i, prediction in zip(again, self._predict([seen[i] for i in again], look.stretch)):
            if prediction.confidence > results[i].confidence:
                results[i] = in_steps_of(prediction, widths[i] / target_width(*seen[i].size, look.stretch))

    def _read_unbent(self, results: list, seen: dict[int, Image.Image]) -> None:
        """Replace the readings :attr:`unbend` wants with the most confident reading of their
        view laid straight along an arc, where it beats them by the unbend's margin."""
        unbend, target_width = self.unbend, self.preprocess.target_width
        owners, views = [], []
        for i, view in seen.items():
            if unbend.wants(results[i], view):
                straight = unbend.views(view)
                owners += [i] * len(straight)
                views += straight
        first = {i: results[i] for i in owners}
        readings = self._predict(views, floors=[unbend.floor(first[i]) for i in owners])
        if self.second_look:  # an arc unbent along another span may leave its letters crowded
            self._look_again(readings, {k: view for k, view in enumerate(views) if readings[k] is not None})
        for i, view, prediction in zip(owners, views, readings):
            if prediction is None:
                continue
            if unbend.prefers(prediction, first[i]) and prediction.confidence > results[i].confidence:
                results[i] = in_steps_of(prediction, target_width(*seen[i].size) / target_width(*view.size))

    def _predict(self, images: list[Image.Image], stretch: float = 1.0,
                 floors: list[float] | None = None) -> list[Prediction | None]:
        """Predictions for loaded images (made ``stretch`` times wider), batched by similar
        width to limit padding. With ``floors``, an image that the first network reads (best
        path) below its floor is read no further (no second opinion, no decoding): None.

        The network runs the batches itself (:meth:`~ocr.reading.backends.SplitModel.stream`):
        one on this thread (with all of PyTorch's threads), more side by side on
        single-threaded workers, widest first, which run while this thread resizes the next
        batches and decodes those done. Normalising, word gaps and decoding are numpy. With a
        :attr:`second_opinion`, each batch's unsure words go to the second network's workers
        and the batch is decoded after the next one arrives."""
        if not images:  # most calls of the second look and unbending: no word wants them
            return []
        widths = [self.preprocess.target_width(*image.size, stretch) for image in images]
        order = sorted(range(len(images)), key=widths.__getitem__)
        # a batch of batch_size (or all the images, when fewer) runs in parts side by side: the
        # few words of a second look or unbending keep both cores busy too
        most = -(-min(self.batch_size, len(images)) // self._run_model.threads)
        groups = [[order[k] for k in group] for group in width_groups([widths[i] for i in order], most)]
        groups.reverse()  # widest first: the batches that finish last are the cheap ones
        makers = [partial(self._batch, [images[i] for i in group], stretch) for group in groups]
        out: list[Prediction | None] = [None] * len(images)
        opinion = self.second_opinion
        waiting: deque[tuple[list[int], np.ndarray, np.ndarray, Revision, BestPaths]] = deque()
        for group, ((pixels, widths), log_probs) in zip(groups, self._run_model.stream(makers)):
            paths = None  # best path's readings: whom the second network reads, which views go on
            if opinion or floors is not None:
                paths = greedy_decode(log_probs, num_frames(widths), self.charset)
                confidences = np.fromiter((p.confidence for p in paths), np.float64, len(paths))
            if floors is not None and not (kept := confidences >= [floors[i] for i in group]).all():
                group = [i for i, keep in zip(group, kept.tolist()) if keep]
                paths = [p for p, keep in zip(paths, kept.tolist()) if keep]
                pixels, widths, confidences = pixels[kept], widths[kept], confidences[kept]
                log_probs = log_probs[:, kept]
                if not group:
                    continue
            revision = as_read(log_probs)
            if opinion:  # the words it reads again are decoded from their revised steps
                revision, revised = opinion.ask(pixels, widths, log_probs, confidences)
                paths = [None if again else p for p, again in zip(paths, revised.tolist())]
            waiting.append((group, pixels, widths, revision, paths))
            if len(waiting) > 1:  # decoded one batch behind: the second network reads meanwhile
                self._decode_into(out, *waiting.popleft())
        while waiting:
            self._decode_into(out, *waiting.popleft())
        return out

    def _decode_into(self, out: list, group: list[int], pixels: np.ndarray, widths: np.ndarray,
                     revision: Revision, best_paths: BestPaths) -> None:
        gaps = batch_word_gaps(pixels, widths) if self.spaces_from_gaps else [[] for _ in group]
        word_starts = [[column_step(gap) for gap in image_gaps] for image_gaps in gaps]
        for i, p, g in zip(group, self.decode(revision(), num_frames(widths), word_starts, best_paths), gaps):
            out[i] = insert_spaces(p, g)

    def _batch(self, images: list[Image.Image], stretch: float) -> tuple[np.ndarray, np.ndarray]:
        return normalized_batch([self.preprocess.pixels(image, stretch)[0] for image in images])


def width_groups(widths: list[int], most: int) -> list[list[int]]:
    """Positions in ``widths`` (ascending) as consecutive batches of at most ``most``; once a
    batch holds ``MIN_BATCH``, it ends before a width more than ``WIDTH_TOLERANCE`` above its first
    (a batch is padded to its widest)."""
    groups: list[list[int]] = []
    for k, width in enumerate(widths):
        if (not groups or len(groups[-1]) >= most
                or (len(groups[-1]) >= MIN_BATCH and width > (1 + WIDTH_TOLERANCE) * widths[groups[-1][0]])):
            groups.append([])
        groups[-1].append(k)
    return groups
