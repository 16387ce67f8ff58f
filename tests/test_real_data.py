"""Real photos in training: fixed hold-out splits, augmentation, fine-tuning with init_from."""
import csv
import logging
import math
import random
from pathlib import Path

import pytest
import torch
from PIL import Image

from ocr import CheckpointError
from ocr.data.augment import PhotoAugment
from ocr.data.splits import holdout_split
from ocr.reading.checkpoint import safe_load
from ocr.train.wiring import train
from tests.conftest import SAMPLES, phone_photo, tiny_config

WORDS = ["open", "simply", "Street", "Coffee", "year", "sale", "exit", "bus", "stop", "Genaxis Theatre"]


def word_folder(root: Path, count: int = 20) -> Path:
    """A labelled folder of ``count`` copies of the sample photos under varied labels."""
    (root / "images").mkdir(parents=True)
    photo = Image.open(SAMPLES / "simply.jpg")
    lines = []
    for i in range(count):
        photo.save(root / "images" / f"w{i}.png")
        lines.append(f"images/w{i}.png\t{WORDS[i % len(WORDS)]}")
    (root / "labels.tsv").write_text("\n".join(lines) + "\n")
    return root


def test_the_holdout_split_is_fixed_by_seed_and_file_names_not_line_order(tmp_path):
    items = [(tmp_path / f"images/{i}.png", str(i)) for i in range(200)]
    trained, held = holdout_split(items, tmp_path, 0.1, seed=0)
    assert len(held) == 20 and len(trained) == 180
    assert not set(held) & set(trained)
    assert set(holdout_split(list(reversed(items)), tmp_path, 0.1, seed=0)[1]) == set(held)
    assert set(holdout_split(items, tmp_path, 0.1, seed=1)[1]) != set(held)


def test_augmented_photos_keep_their_mode_and_vary_with_the_rng():
    image = Image.open(SAMPLES / "simply.jpg").convert("L")
    augment = PhotoAugment({"warp": 1.0, "tilt": 1.0, "curve": 1.0, "arc": 1.0, "arc_unbent": 1.0, "jitter": 1.0,
                            "low_res": 1.0, "blur": 1.0, "contrast": 1.0, "jpeg": 1.0})
    a, b = augment(image, random.Random(1)), augment(image, random.Random(2))
    assert a.mode == "L" and min(a.size) >= 4
    assert a.tobytes() != b.tobytes()
    assert augment(image, random.Random(1)).tobytes() == a.tobytes()
    with pytest.raises(ValueError, match="unknown augmentation effects"):
        PhotoAugment({"sharpen": 0.5})


def test_a_curved_photo_bends_a_straight_line_into_an_arc():
    image = Image.new("L", (200, 40), 255)
    image.paste(0, (0, 18, 200, 22))  # a straight black line across the middle

    def line_row(bent: Image.Image, x: int) -> float:
        dark = [y for y in range(bent.height) if bent.getpixel((x, y)) < 128]
        return sum(dark) / len(dark)

    lifts = []
    for seed in range(6):
        bent = PhotoAugment({"curve": 1.0}, max_bend=0.5)(image, random.Random(seed))
        lift = line_row(bent, 2) - line_row(bent, 100)  # > 0: the middle rose above the ends
        assert bent.width == 200 and abs((bent.height - 40) - abs(lift)) <= 1.5  # grown by the bend
        assert abs(line_row(bent, 2) - line_row(bent, 197)) < 1.0  # both ends level
        assert abs(lift) <= 0.5 * 40 + 1
        lifts.append(lift)
    assert min(lifts) < -5 and max(lifts) > 5  # arched and sagging


def test_a_photo_laid_on_an_arc_turns_a_straight_line_into_a_circle():
    image = Image.new("L", (200, 40), 255)
    image.paste(0, (0, 18, 200, 22))  # a straight black line across the middle

    def dark_rows(bent: Image.Image, x: int) -> list[int]:
        return [y for y in range(bent.height) if bent.getpixel((x, y)) < 128]

    rises = []
    for seed in range(6):
        bent = PhotoAugment({"arc": 1.0}, arc_degrees=(120, 120))(image, random.Random(seed))
        inked = [x for x in range(bent.width) if dark_rows(bent, x)]
        middle, ends = dark_rows(bent, bent.width // 2), dark_rows(bent, inked[0]) + dark_rows(bent, inked[-1])
        assert abs(inked[0] - (bent.width - 1 - inked[-1])) <= 2  # symmetric
        rises.append(sum(ends) / len(ends) - sum(middle) / len(middle))  # > 0: arched
        # a third of a circle whose middle line is 200 long: radius 95.5; the box spans the outer
        # edge's ends (2 x 115.5 sin 60) and from its top to the inner edge's ends (115.5 - 75.5 cos 60)
        assert abs(bent.width - 200) <= 2 and abs(bent.height - 78) <= 2
    assert min(rises) < -30 and max(rises) > 30  # arched and sagging
    flat = PhotoAugment({"arc": 1.0}, arc_degrees=(1, 1))(image, random.Random(0))
    assert abs(flat.width - 200) <= 2 and abs(flat.height - 40) <= 3  # a sliver of a circle is nearly flat


def test_a_tilted_photo_turns_a_level_line_steeply_either_way():
    image = Image.new("L", (200, 40), 255)
    image.paste(0, (0, 18, 200, 22))  # a level black line across the middle
    slopes = []
    for seed in range(8):
        tilted = PhotoAugment({"tilt": 1.0}, tilt_degrees=(20, 40))(image, random.Random(seed))
        dark = [(x, y) for x in range(tilted.width) for y in range(tilted.height) if tilted.getpixel((x, y)) < 128]
        (x0, y0), (x1, y1) = min(dark), max(dark)  # the line's two ends
        slope = math.degrees(math.atan2(y0 - y1, x1 - x0))
        turn = math.radians(abs(slope))  # the upright box around the whole turned image
        assert abs(tilted.height - (200 * math.sin(turn) + 40 * math.cos(turn))) <= 6
        slopes.append(slope)
    assert all(18 <= abs(s) <= 42 for s in slopes)
    assert min(slopes) < 0 < max(slopes)


def test_an_outward_perspective_cuts_no_letter_off_a_tight_crop():
    """With ``perspective_outward`` the corners move only outwards: ink at each corner of a
    tight crop stays in the picture, where moves either way cut some of it off."""
    image = Image.new("L", (120, 40), 255)
    for x, y in [(0, 0), (114, 0), (0, 34), (114, 34)]:
        image.paste(0, (x, y, x + 6, y + 6))  # a dark square in each corner

    def corners_kept(outward: bool, seed: int) -> int:
        warp = PhotoAugment({"warp": 1.0}, max_angle=0.0, max_shear=0.0, max_perspective=0.3,
                            perspective_outward=outward)
        out = warp(image, random.Random(seed))
        w, h = out.size
        quarters = [(0, 0, w // 2, h // 2), (w // 2, 0, w, h // 2), (0, h // 2, w // 2, h), (w // 2, h // 2, w, h)]
        return sum(out.crop(box).getextrema()[0] < 128 for box in quarters)

    assert all(corners_kept(True, seed) == 4 for seed in range(20))
    assert any(corners_kept(False, seed) < 4 for seed in range(20))


@pytest.mark.parametrize("effect", ["curve", "arc"])
@pytest.mark.parametrize("size", [(1, 20), (3, 20), (15, 20), (16, 20), (17, 20), (25, 20), (30, 20), (2, 1), (5, 2)])
def test_a_narrow_photo_can_be_curved(size, effect):
    """A crop narrower or lower than the strips or tiles a bend is drawn with (real crops can
    be a few pixels wide)."""
    image = Image.new("L", size, 200)
    for seed in range(4):
        bent = PhotoAugment({effect: 1.0}, max_bend=0.5)(image, random.Random(seed))
        assert bent.height >= size[1] and (bent.width == size[0] if effect == "curve" else bent.width >= 1)


def test_training_photos_far_larger_than_the_model_needs_are_loaded_and_augmented_reduced(tmp_path):
    # a 12-megapixel photo was decoded whole and augmented at full size at every step (1.4 s an
    # example with warps); now as small as reading loads it, and resized to much the same pixels
    from ocr.data.datasets import LabelledFolder
    from ocr.data.transforms import Preprocess
    from ocr.text.charset import Charset

    photo = phone_photo()
    photo.save(tmp_path / "photo.jpg", quality=92)
    (tmp_path / "labels.tsv").write_text("photo.jpg\tStreet\n")
    augmented = []
    folder = LabelledFolder(tmp_path, Charset("Sert"), Preprocess(),
                            augment=lambda image, rng: augmented.append(image.size) or image)
    example = folder[0]
    assert 128 <= min(augmented[0]) < 256
    whole, _ = Preprocess()(photo)
    assert (example.image - torch.from_numpy(whole)).abs().mean() < 0.05  # [-1, 1]: within 2.5% on average


def test_a_real_holdout_is_scored_at_every_validation_and_kept_out_of_training(tmp_path, caplog):
    folder = word_folder(tmp_path / "photos")
    cfg = tiny_config("data=mix", "data.sources.synth=0.5", "data.sources.folder=0.5", f"data.folder_dirs=[{folder}]",
                      "data.holdout=0.1", "+data.folder_augment.effects.warp=0.5")
    with caplog.at_level(logging.WARNING):
        trainer = train(cfg, tmp_path / "run")
    parts = trainer.datamodule._parts["folder"].datasets[0].items
    held = trainer.datamodule._val["holdout"].datasets[0].items
    assert len(held) == 2 and len(parts) == 18 and not set(held) & set(parts)
    assert "dropped 2 label characters outside the charset: ' 'x2" in caplog.text  # "Genaxis Theatre", twice
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert [r["holdout/acc36"] for r in rows if r.get("holdout/acc36")], "holdout never scored"


def test_init_from_copies_the_weights_with_a_fresh_optimiser(tiny_checkpoint, tmp_path):
    train(tiny_config("data.val_size=0", "trainer.max_steps=1", f"init_from={tiny_checkpoint}",
                      "optim.optimizer.lr=0.0"), tmp_path / "ft")
    start, tuned = safe_load(tiny_checkpoint), safe_load(tmp_path / "ft" / "checkpoints" / "last.ckpt")
    assert tuned["global_step"] == 1  # a new run, not a resumed one
    for key, value in start["state_dict"].items():
        if "num_batches_tracked" not in key and "running_" not in key:  # batch norm statistics still move
            assert torch.equal(value, tuned["state_dict"][key]), key


def test_init_from_another_charset_reinitialises_only_the_output_layer(tiny_checkpoint, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        train(tiny_config("charset=lower36", "data.val_size=0", "trainer.max_steps=1", f"init_from={tiny_checkpoint}",
                          "optim.optimizer.lr=0.0", "model.initial_blank_probability=0.8"), tmp_path / "ft")
    assert "the output layer was re-initialised (95 -> 37 classes)" in caplog.text
    start, tuned = safe_load(tiny_checkpoint), safe_load(tmp_path / "ft" / "checkpoints" / "last.ckpt")
    assert tuned["state_dict"]["model.classifier.weight"].shape[0] == 37
    # the new output layer gets the blank start: odds of 0.8 against 0.2 spread over 36 letters
    assert tuned["state_dict"]["model.classifier.bias"][0].item() == pytest.approx(math.log(4 * 36))
    key = "model.sequence.rnn.weight_hh_l0"
    assert torch.equal(start["state_dict"][key], tuned["state_dict"][key])


def test_init_from_another_architecture_is_refused_naming_the_key(tiny_checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match=r"another architecture \(model\.sequence\.rnn\.weight_ih_l0: checkpoint \(128, "):
        train(tiny_config("model.rnn_hidden_size=48", f"init_from={tiny_checkpoint}"), tmp_path / "ft")
