"""The shipped default model works out of the box."""
from ocr import Recognizer
from ocr.assets import DEFAULT_MODEL
from tests.conftest import SAMPLES, run_script


def test_default_model_is_small_and_reads_the_samples():
    assert sum(path.stat().st_size for path in DEFAULT_MODEL.parent.iterdir()) <= 25 * 1024 * 1024  # every shipped file
    labels = dict(line.split("\t") for line in (SAMPLES / "labels.tsv").read_text().splitlines())
    names = sorted(labels)
    predictions = Recognizer.load().read([SAMPLES / n for n in names])
    read = {n: p.text for n, p in zip(names, predictions)}
    assert read["simply.jpg"] == "simply"
    assert read["salutes.png"] == "Salutes!"  # case and punctuation: the 94-character charset
    assert read == labels  # "Coffee" (a stylised photo) too


def test_the_shipped_model_reads_with_its_second_opinion_unless_told_not_to():
    from ocr.assets import DEFAULT_SECOND_OPINION

    assert Recognizer.load().second_opinion.model is not None and DEFAULT_SECOND_OPINION.is_file()
    assert Recognizer.load(second_opinion="none").second_opinion is None
    alone = run_script("predict.py", str(SAMPLES / "simply.jpg"), "--second-opinion", "none")
    assert alone.returncode == 0 and alone.stdout.split()[1] == "simply"


def test_predict_and_evaluate_use_the_default_model_without_checkpoint(tmp_path):
    result = run_script("predict.py", str(SAMPLES / "simply.jpg"))
    assert result.returncode == 0 and result.stdout.split()[1] == "simply"
    scores = run_script("evaluate.py", str(SAMPLES))
    assert scores.returncode == 0 and "| samples | 6 |" in scores.stdout


def test_a_rendered_three_word_line_is_read_whole_with_spaces():
    from PIL import Image, ImageDraw, ImageFont

    from ocr.data.fonts import installed_fonts
    from ocr.text.charset import normalize36

    font = ImageFont.truetype(str(next(p for p in installed_fonts() if p.name.startswith("OpenSans"))), 40)
    text = "Open daily sale"
    line = Image.new("L", (int(font.getlength(text)) + 24, 56), 235)
    ImageDraw.Draw(line).text((12, 4), text, font=font, fill=20)
    reading = Recognizer.load().read([line])[0]
    assert [normalize36(word) for word in reading.text.split(" ")] == ["open", "daily", "sale"]
    assert len(reading.char_confidences) == len(reading.text) == len(reading.steps)


def test_turned_tiny_and_huge_words_are_read():
    from PIL import Image, ImageDraw, ImageFont

    from ocr.data.fonts import installed_fonts

    font = ImageFont.truetype(str(next(p for p in installed_fonts() if p.name.startswith("OpenSans"))), 40)
    word = Image.new("L", (int(font.getlength("Station")) + 24, 56), 235)
    ImageDraw.Draw(word).text((12, 4), "Station", font=font, fill=20)
    views = [word.rotate(90, expand=True), word.rotate(270, expand=True),  # written along the height
             word.resize((word.width * 12 // 56, 12)), word.resize((word.width * 40, 56 * 40))]
    assert [p.text.lower() for p in Recognizer.load().read(views)] == ["station"] * 4
    short = Image.new("L", (int(font.getlength("Tea")) + 24, 56), 235)
    ImageDraw.Draw(short).text((12, 4), "Tea", font=font, fill=20)
    upright = short.rotate(90, expand=True)
    assert 1.5 <= upright.height / upright.width < 2  # a short word turned is less than twice as tall
    assert Recognizer.load().read(upright)[0].text.lower() == "tea"


def test_condensed_words_read_wrong_are_read_again_stretched_and_right():
    from PIL import Image

    from ocr.geometry import num_frames

    # the second look alone (the second opinion reads some of these right already)
    looking, not_looking = Recognizer.load(second_opinion=None), Recognizer.load(second_look=False, second_opinion=None)
    for name, factor, label in (("salutes.png", 0.5, "Salutes!"), ("street.png", 0.35, "Street")):
        image = Image.open(SAMPLES / name)
        condensed = image.resize((round(image.width * factor), image.height), Image.Resampling.BICUBIC)
        first, second = not_looking.read(condensed)[0], looking.read(condensed)[0]
        assert first.text != label and second.text == label  # too few steps per letter, then enough
        assert second.confidence > first.confidence
        steps = num_frames(looking.preprocess.target_width(*condensed.size))
        assert second.steps[-1][1] < steps  # character steps of the image as given, not of the stretched one
