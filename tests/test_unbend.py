"""Unbending: words on arcs laid straight again before a second reading."""
import random

import pytest
from PIL import Image

from ocr import Prediction, Recognizer
from ocr.data.arcs import unbent
from ocr.data.augment import PhotoAugment
from ocr.reading.unbend import Unbend
from tests.conftest import SAMPLES


def line_on_arc(degrees: float, seed: int) -> Image.Image:
    """A straight black line across a 200x40 image, laid along an arc of ``degrees``
    (arched or sagging by ``seed``) as training lays words."""
    image = Image.new("L", (200, 40), 255)
    image.paste(0, (0, 18, 200, 22))
    return PhotoAugment({"arc": 1.0}, arc_degrees=(degrees, degrees))(image, random.Random(seed))


def line_row(image: Image.Image, x: int) -> float:
    dark = [y for y in range(image.height) if image.getpixel((x, y)) < 128]
    return sum(dark) / len(dark)


@pytest.mark.parametrize("seed", range(4))  # arched and sagging
def test_a_line_laid_on_an_arc_is_laid_straight_again(seed):
    bent = line_on_arc(150, seed)
    inked = [x for x in range(bent.width) if any(bent.getpixel((x, y)) < 128 for y in range(bent.height))]
    ends = line_row(bent, bent.width // 2) - line_row(bent, inked[2])
    assert abs(ends) > 20  # the bent line's middle lies far above or below its ends
    arched = ends < 0
    straight = unbent(bent, 150, arched, 255)
    assert abs(straight.width - 200) <= 6 and abs(straight.height - 40) <= 3  # the word's own size
    rows = [line_row(straight, x) for x in range(5, straight.width - 5, 10)]
    assert max(rows) - min(rows) <= 1.5  # level from end to end
    assert abs(rows[0] - 20) <= 1.5  # in the middle of the word's height
    wrong_way = unbent(bent, 150, not arched, 255)  # the line bent the other way too: it leaves the middle
    level = [x for x in range(5, wrong_way.width - 5, 10) if wrong_way.getpixel((x, 20)) < 128]
    assert len(level) < len(rows) / 2


@pytest.mark.parametrize("seed", range(4))
def test_training_can_show_what_unbending_leaves_of_an_arc_of_another_span(seed):
    image = Image.new("L", (200, 40), 255)
    image.paste(0, (0, 18, 200, 22))

    def unbent_line(degrees: float) -> list[float]:  # the line's row along its length, where it shows
        out = PhotoAugment({"arc_unbent": 1.0}, arc_degrees=(degrees, degrees))(image, random.Random(seed))
        inked = [x for x in range(5, out.width - 5, 10) if min(out.crop((x, 0, x + 1, out.height)).getdata()) < 128]
        return [line_row(out, x) for x in inked]

    level, left_over = unbent_line(150), unbent_line(100)  # unbent along 150 degrees either way
    assert len(level) > 15 and max(level) - min(level) <= 2.5
    assert max(left_over) - min(left_over) > 10  # a 100-degree arc unbent as a 150-degree one bends back


def test_a_crop_too_flat_or_too_tall_for_the_arc_is_not_unbent():
    assert unbent(Image.new("L", (200, 30)), 150, True, 0) is None  # a straight word: no circle fits
    assert unbent(Image.new("L", (100, 80)), 150, True, 0) is None  # taller than any word on such an arc
    assert unbent(Image.new("L", (200, 90)), 150, False, 0) is not None


def test_only_unsure_words_that_are_not_too_wide_are_unbent():
    unbend = Unbend(threshold=0.5, max_aspect=2.5, spans=(150.0,), margin=0.2)
    crop = Image.new("L", (200, 90))
    assert unbend.wants(Prediction("badge", 0.3), crop)
    assert not unbend.wants(Prediction("badge", 0.6), crop)
    assert not unbend.wants(Prediction("badge", 0.3), Image.new("L", (300, 90)))
    assert len(unbend.views(crop)) == 2  # arched and sagging
    assert unbend.prefers(Prediction("badge", 0.5), Prediction("bdoe", 0.3))
    assert not unbend.prefers(Prediction("badge", 0.45), Prediction("bdoe", 0.3))


def test_unbending_replaces_a_reading_only_by_a_much_more_confident_one(tiny_checkpoint):
    images = [Image.open(p).convert("L").resize((160, 75)) for p in sorted(SAMPLES.glob("*.*g"))]
    rec = Recognizer.load(tiny_checkpoint, precision="fp32", unbend=False)
    first = rec.read(images)
    rec.unbend = Unbend(threshold=2.0, max_aspect=10.0, spans=(150.0,), margin=0.05)  # every word unbent
    again = rec.read(images)
    assert all(b == a or b.confidence >= a.confidence + 0.05 for a, b in zip(first, again))


def test_views_the_first_network_reads_no_better_than_the_word_go_no_further(tiny_checkpoint):
    images = [Image.open(p).convert("L").resize((160, 75)) for p in sorted(SAMPLES.glob("*.*g"))]

    def read(**unbend):  # the tiny model is its own second opinion, unsure of every word
        rec = Recognizer.load(tiny_checkpoint, precision="fp32", second_opinion=tiny_checkpoint, second_look=False,
                              unbend=bool(unbend))
        if unbend:
            rec.unbend = Unbend(threshold=2.0, max_aspect=10.0, spans=(150.0,), **unbend)
        return [p.text for p in rec.read(images)], rec.second_opinion.words_read

    texts, words_read = read()
    assert read(promise=1.0) == (texts, words_read)  # no view reads that well: none goes on
    assert read(promise=-1.0)[1] == words_read + 2 * len(images)  # every view goes on, arched and sagging


def test_sure_words_are_never_read_again(tiny_checkpoint, monkeypatch):
    rec = Recognizer.load(tiny_checkpoint, precision="fp32", second_look=False)
    rec.unbend = Unbend(threshold=0.0)  # no reading is that unsure
    calls = []
    predict = rec._predict
    monkeypatch.setattr(rec, "_predict",
                        lambda images, *args, **kwargs: calls.append(len(images)) or predict(images, *args, **kwargs))
    paths = sorted(SAMPLES.glob("*.*g"))
    rec.read(paths)
    assert sum(calls) == len(paths)  # each read once


def test_the_default_model_reads_a_sample_word_laid_along_an_arc_surely():
    bent = PhotoAugment({"arc": 1.0}, arc_degrees=(150, 150))(Image.open(SAMPLES / "simply.jpg"), random.Random(0))
    assert Recognizer.load(unbend=False).read(bent)[0].confidence < 0.5  # unsure: it may be on an arc
    straightened = Recognizer.load().read(bent)[0]
    assert straightened.text == "simply" and straightened.confidence > 0.9
