import random
import string
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from PIL import Image

from ocr.data.alignment import frame_targets
from ocr.data.datasets import SyntheticWords
from ocr.data.fonts import installed_fonts
from ocr.data.scene import EFFECTS
from ocr.data.transforms import Preprocess
from ocr.geometry import num_frames
from ocr.text.charset import Charset
from ocr.text.decoding import collapse
from tests.conftest import ROOT, basic_renderer, scene_renderer, text_sampler

PRINTABLE = Charset("".join(chr(c) for c in range(33, 127)))


OPTIONAL_EFFECTS = {"dots": 1.0, "deep_clip": 1.0, "squeeze": 1.0, "condense": 1.0, "photo_turn": 1.0, "arc": 1.0,
                    "strong_geometry": 1.0,
                    "hollow": 1.0}  # off by default


@pytest.fixture(scope="module", params=["basic", "scene", "scene_optional_effects"])
def dataset(request) -> SyntheticWords:
    sampler = text_sampler(PRINTABLE, vocabulary_size=2000)
    renderer = {"basic": lambda f: basic_renderer(f), "scene": lambda f: scene_renderer(f),
                "scene_optional_effects": lambda f: scene_renderer(f, OPTIONAL_EFFECTS)}[request.param]
    return SyntheticWords(24, 7, sampler, renderer(installed_fonts()), Preprocess(max_width=256))


def test_samples_are_deterministic_per_seed_epoch_index(dataset):
    a, b = dataset[3], dataset[3]
    assert a.text == b.text and a.image.equal(b.image)
    dataset.epoch = 1
    c = dataset[3]
    dataset.epoch = 0
    assert not (c.text == a.text and c.image.shape == a.image.shape and c.image.equal(a.image))


def test_extents_are_ordered_inside_the_image(dataset):
    for ex in (dataset[i] for i in range(len(dataset))):
        assert len(ex.extents) == len(ex.text)
        width = ex.image.shape[-1]
        for x0, x1 in ex.extents:
            assert -2 <= x0 < x1 <= width + 2


def test_frame_targets_decode_back_to_the_label(dataset):
    for ex in (dataset[i] for i in range(len(dataset))):
        ids = PRINTABLE.encode(ex.text)
        targets = frame_targets(ex.extents, ids, num_frames(ex.image.shape[-1]))
        assert [i for i, _, _ in collapse(targets)] == ids


def test_text_sampler_mixes_case_and_stays_in_charset():
    sampler = text_sampler(Charset("0123456789abcdefghijklmnopqrstuvwxyz", case_sensitive=False), vocabulary_size=2000)
    rng = random.Random(0)
    texts = [sampler.sample(rng) for _ in range(300)]
    assert any(t.isupper() for t in texts) and any(t.islower() for t in texts)
    assert all(sampler.charset.normalize(t) and len(sampler.charset.normalize(t)) == len(t) for t in texts)


def test_random_strings_hold_the_configured_share_of_symbols():
    rng = random.Random(0)
    for share in (0.0, 0.1, 1.0):
        sampler = text_sampler(PRINTABLE, vocabulary_size=2000, p_random=1.0, random_symbols=share)
        chars = "".join(sampler.sample(rng) for _ in range(400))
        symbols = sum(not c.isalnum() for c in chars) / len(chars)
        assert abs(symbols - share) < 0.03, (share, symbols)


def test_caps_only_faces_are_left_out_for_case_sensitive_labels():
    names = lambda fonts: {p.name for p in fonts}  # noqa: E731
    assert "BebasNeue-Regular.ttf" in names(installed_fonts(case_sensitive=False))
    assert "BebasNeue-Regular.ttf" not in names(installed_fonts(case_sensitive=True))


def test_scene_renderer_draws_on_photos_from_a_folder(tmp_path):
    Image.new("L", (64, 48), 200).save(tmp_path / "wall.png")
    renderer = scene_renderer(installed_fonts()[:2], {"photo": 1.0}, background_dir=tmp_path)
    image, extents = renderer.render("Open", random.Random(0))
    assert image.mode == "L" and len(extents) == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty: no .jpg"):
        scene_renderer(installed_fonts()[:2], background_dir=empty)
    with pytest.raises(ValueError, match="missing: background photo folder not found"):
        scene_renderer(installed_fonts()[:2], background_dir=tmp_path / "missing")


def test_renderer_effects_are_all_set_in_the_config_and_an_effect_left_off_changes_nothing():
    assert list(OmegaConf.load(ROOT / "configs" / "renderer" / "scene.yaml").effects) == list(EFFECTS)
    fonts = installed_fonts()[:4]
    default, off, on = (scene_renderer(fonts, e) for e in (None, {"dots": 0.0}, OPTIONAL_EFFECTS))
    images = [[r.render("Open", random.Random(seed))[0].tobytes() for seed in range(5)] for r in (default, off, on)]
    assert images[0] == images[1] and images[0] != images[2]
    with pytest.raises(ValueError, match=r"unknown renderer effects \['sparkle'\]"):
        scene_renderer(fonts, {"sparkle": 1.0})


def test_condense_narrows_the_crop_and_its_extents():
    fonts = installed_fonts()
    plain, condensed = scene_renderer(fonts), scene_renderer(fonts, {"condense": 1.0})
    for seed in range(5):
        (a, ea), (b, eb) = (r.render("Salutes", random.Random(seed)) for r in (plain, condensed))
        assert b.height == a.height and 0.4 <= b.width / a.width <= 0.7
        assert eb[-1][1] / ea[-1][1] == pytest.approx(b.width / a.width)


def test_font_folders_skip_symbol_fonts(tmp_path):
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    def font_with(chars: str, out: Path) -> Path:
        pen = TTGlyphPen(None)
        pen.moveTo((0, 0)), pen.lineTo((0, 500)), pen.lineTo((400, 500)), pen.closePath()
        names = [".notdef", *(f"g{ord(c)}" for c in chars)]
        fb = FontBuilder(1000, isTTF=True)
        fb.setupGlyphOrder(names)
        fb.setupCharacterMap({ord(c): f"g{ord(c)}" for c in chars})
        fb.setupGlyf({n: pen.glyph() for n in names})
        fb.setupHorizontalMetrics({n: (500, 0) for n in names})
        fb.setupHorizontalHeader(ascent=800, descent=-200)
        fb.setupNameTable({"familyName": out.stem, "styleName": "Regular"})
        fb.setupOS2(), fb.setupPost()
        fb.save(str(out))
        return out

    latin = font_with(string.ascii_letters + string.digits, tmp_path / "Latin.ttf")
    symbols = font_with("\uf041\uf042\uf043", tmp_path / "Dingbats.ttf")
    (tmp_path / "Broken.ttf").write_bytes(b"not a font")
    fonts = installed_fonts([str(tmp_path)], case_sensitive=False)
    assert latin in fonts and symbols not in fonts and tmp_path / "Broken.ttf" not in fonts


def test_offensive_words_are_never_rendered():
    from wordfreq import top_n_list

    from ocr.data.texts import blocked_words

    blocked = blocked_words()
    listed = blocked & set(top_n_list("en", 50000))
    assert listed, "wordfreq lists none of the blocked words: the test shows nothing"
    sampler = text_sampler(Charset("0123456789abcdefghijklmnopqrstuvwxyz", case_sensitive=False), vocabulary_size=50000,
                           p_random=0.0, p_number=0.0, p_formatted=0.0)
    assert not blocked & set(sampler.words)
    rng = random.Random(0)
    assert not blocked & {sampler.sample(rng).lower() for _ in range(20000)}
