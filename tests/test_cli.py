"""predict.py and evaluate.py as a user runs them."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from ocr.reading.checkpoint import load_model
from tests.conftest import ROOT, SAMPLES, modules_loaded_by, run_script

SAMPLE_NAMES = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".jpg", ".png"))


def test_predict_reads_every_sample(tiny_checkpoint):
    result = run_script("predict.py", str(SAMPLES), "--checkpoint", str(tiny_checkpoint))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [Path(line.split("  ")[0]).name for line in lines] == SAMPLE_NAMES
    for line in lines:
        assert 0.0 <= float(line.rsplit("  ", 1)[1]) <= 1.0


@pytest.mark.parametrize("fmt", ["json", "tsv"])
def test_predict_machine_readable_formats(tiny_checkpoint, fmt):
    result = run_script("predict.py", str(SAMPLES / "*.png"), "--checkpoint", str(tiny_checkpoint),
                        "--format", fmt, "--batch-size", "2")
    assert result.returncode == 0, result.stderr
    pngs = [n for n in SAMPLE_NAMES if n.endswith(".png")]
    if fmt == "json":
        rows = json.loads(result.stdout)
        assert [Path(r["path"]).name for r in rows] == pngs and all("text" in r and "confidence" in r for r in rows)
        assert len(result.stdout.splitlines()) == len(rows) + 2  # "[", an image a line, "]"
    else:
        header, *rows = result.stdout.strip().splitlines()
        assert header == "path\ttext\tconfidence" and len(rows) == len(pngs)


def make_bad_inputs(folder: Path) -> dict[str, str]:
    """Bad files keyed by name, with the phrase expected in each one's error line."""
    (folder / "notes.png").write_text("this is not an image")
    (folder / "empty.jpg").write_bytes(b"")
    png = (SAMPLES / "street.png").read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) // 3])
    Image.new("RGB", (1, 1), "white").save(folder / "dot.png")
    return {"notes.png": "not an image", "empty.jpg": "empty file", "truncated.png": "truncated",
            "dot.png": "1x1 pixels", "missing.png": "no such file"}


def test_predict_bad_inputs_are_reported_and_others_still_read(tiny_checkpoint, tmp_path):
    expected = make_bad_inputs(tmp_path)
    shutil.copy(SAMPLES / "simply.jpg", tmp_path / "simply.jpg")
    args = [str(tmp_path / name) for name in ["notes.png", "empty.jpg", "simply.jpg", "truncated.png", "dot.png",
                                              "missing.png"]]
    result = run_script("predict.py", *args, "--checkpoint", str(tiny_checkpoint))
    assert result.returncode == 2
    assert [Path(line.split("  ")[0]).name for line in result.stdout.strip().splitlines()] == ["simply.jpg"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == len(expected)
    for name, phrase in expected.items():
        (line,) = [e for e in errors if name in e]
        assert line.startswith("error: ") and phrase in line


def test_predict_missing_checkpoint_is_a_clear_error(tmp_path):
    result = run_script("predict.py", str(SAMPLES), "--checkpoint", str(tmp_path / "nope.ckpt"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.ckpt'}: no such checkpoint file"


def test_predict_rejects_a_file_that_is_not_a_checkpoint(tmp_path):
    fake = tmp_path / "fake.ckpt"
    fake.write_bytes(b"not a checkpoint")
    result = run_script("predict.py", str(SAMPLES), "--checkpoint", str(fake))
    assert result.returncode == 2 and "not a readable checkpoint" in result.stderr


def test_slim_copy_is_smaller_and_computes_the_same(tiny_checkpoint, tmp_path):
    slim = tmp_path / "slim.ckpt"
    result = subprocess.run([sys.executable, "-m", "ocr.reading.slim", str(tiny_checkpoint), str(slim)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "Warning" not in result.stderr, result.stderr
    assert result.stdout.startswith(f"{slim}: ")
    assert slim.stat().st_size < tiny_checkpoint.stat().st_size / 2  # no optimizer state, fp16
    images, widths = torch.rand(2, 1, 32, 64) * 2 - 1, torch.tensor([64, 48])
    with torch.no_grad():
        full, half = (load_model(p).model(images, widths) for p in (tiny_checkpoint, slim))
    assert torch.allclose(full, half, atol=0.05)


def test_slim_averages_the_weights_of_several_checkpoints_of_one_model(tiny_checkpoint, tmp_path):
    # a model soup: fine-tunes of one start, averaged; another charset is refused in one line
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    shifted = dict(ckpt, state_dict={k: v + 1 if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    other = dict(ckpt, hyper_parameters={**ckpt["hyper_parameters"], "charset": {"chars": "0123456789"}})
    for name, content in (("shifted.ckpt", shifted), ("other.ckpt", other)):
        torch.save(content, tmp_path / name)
    soup = tmp_path / "soup.ckpt"
    slim = [sys.executable, "-m", "ocr.reading.slim", str(tiny_checkpoint), str(tmp_path / "shifted.ckpt")]
    result = subprocess.run([*slim, str(soup), "--fp32"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    averaged = torch.load(soup, weights_only=True)["state_dict"]
    for key, value in ckpt["state_dict"].items():
        expected = value + 0.5 if value.is_floating_point() else value
        assert torch.allclose(averaged[key], expected), key
    refused = subprocess.run([*slim, str(tmp_path / "other.ckpt"), str(tmp_path / "bad.ckpt")],
                             capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and not (tmp_path / "bad.ckpt").exists()
    assert refused.stderr == f"error: {tmp_path / 'other.ckpt'}: not the model of {tiny_checkpoint} (another charset); " \
                             "only checkpoints of one model can be averaged\n"


def labelled_folder(root: Path, names: list[str]) -> Path:
    (root / "images").mkdir(parents=True)
    labels = dict(line.split("\t") for line in (SAMPLES / "labels.tsv").read_text().splitlines())
    for name in names:
        shutil.copy(SAMPLES / name, root / "images" / name)
    (root / "labels.tsv").write_text("".join(f"images/{n}\t{labels[n]}\n" for n in names))
    return root


def test_evaluate_prints_table_and_writes_json(tiny_checkpoint, tmp_path):
    a = labelled_folder(tmp_path / "setA", SAMPLE_NAMES[:2])
    b = labelled_folder(tmp_path / "setB", SAMPLE_NAMES[2:])
    out, errors = tmp_path / "scores.json", tmp_path / "errors.tsv"
    result = run_script("evaluate.py", str(a), str(b), "--checkpoint", str(tiny_checkpoint), "--json", str(out),
                        "--errors", str(errors))
    assert result.returncode == 0, result.stderr
    table = result.stdout.strip().splitlines()
    assert table[0] == ("| set | words | acc36 | acc_cs | ned | ned36 | confidence | acc36_cov95 | acc36_cov90 "
                        "| images_per_s |")
    assert [row.split("|")[1].strip() for row in table[2:]] == ["setA", "setB", "total"]
    scores = json.loads(out.read_text())
    assert set(scores["sets"]) == {"setA", "setB"}
    assert scores["total"]["words"] == len(SAMPLE_NAMES)
    for row in [*scores["sets"].values(), scores["total"]]:
        assert set(row) == {"words", "acc36", "acc_cs", "ned", "ned36", "confidence", "acc36_cov95", "acc36_cov90",
                            "images_per_s"}
        assert all(0.0 <= row[k] <= 1.0 for k in ("acc36", "acc_cs", "ned", "ned36", "confidence", "acc36_cov90"))
    header, *misread = errors.read_text().splitlines()
    assert header == "path\tlabel\treading\tconfidence"
    wrong = round(scores["total"]["words"] * (1 - scores["total"]["acc36"]))
    assert len(misread) == wrong  # one row per word read wrong
    confidences = [float(row.split("\t")[3]) for row in misread]
    assert confidences == sorted(confidences)


def test_evaluate_missing_folder_is_a_clear_error(tmp_path):
    result = run_script("evaluate.py", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'nowhere'}: no such folder (a labelled folder holds the images and " \
                            "labels.tsv, one 'image path<TAB>label' line per image)\n"


def test_evaluate_skips_files_matched_by_a_glob(tiny_checkpoint, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("the sets in this folder\n")
    result = run_script("evaluate.py", str(SAMPLES), str(readme), "--checkpoint", str(tiny_checkpoint))
    assert result.returncode == 0 and f"{readme}: a file, not a folder; skipped" in result.stderr
    assert "| samples |" in result.stdout
    only_files = run_script("evaluate.py", str(readme), "--checkpoint", str(tiny_checkpoint))
    assert only_files.returncode == 2


def test_predict_with_a_letter_model_of_ones_own(tiny_checkpoint, tmp_path):
    from ocr.text.language_model import CharNgram

    model = tmp_path / "shop.lm.npz"
    CharNgram.from_words([("simply", 3), ("coffee", 2), ("open", 1)], order=4).save(model)
    result = run_script("predict.py", str(SAMPLES), "--checkpoint", str(tiny_checkpoint), "--language-model", str(model))
    assert result.returncode == 0 and len(result.stdout.strip().splitlines()) == len(SAMPLE_NAMES)
    broken = tmp_path / "broken.lm.npz"
    broken.write_text("not gzip")
    for bad in (broken, tmp_path / "missing.lm.npz"):
        result = run_script("predict.py", str(SAMPLES), "--checkpoint", str(tiny_checkpoint), "--language-model", str(bad))
        assert result.returncode == 2 and str(bad) in result.stderr and "Traceback" not in result.stderr


def test_predict_with_beam_and_lexicon_decoders(tiny_checkpoint, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("simply\nopen\ncoffee\n2026\n")
    beam = run_script("predict.py", str(SAMPLES), "--checkpoint", str(tiny_checkpoint), "--decoder", "beam",
                      "--beam-width", "4")
    assert beam.returncode == 0 and len(beam.stdout.strip().splitlines()) == len(SAMPLE_NAMES)
    lexicon = run_script("predict.py", str(SAMPLES), "--checkpoint", str(tiny_checkpoint), "--decoder", "lexicon",
                         "--lexicon", str(words), "--format", "json")
    assert lexicon.returncode == 0, lexicon.stderr
    allowed = {v for w in ("simply", "open", "coffee", "2026") for v in (w, w.title(), w.upper())}
    assert {row["text"] for row in json.loads(lexicon.stdout)} <= allowed
    missing = run_script("predict.py", str(SAMPLES), "--checkpoint", str(tiny_checkpoint), "--decoder", "lexicon")
    assert missing.returncode != 0 and "needs a word list (--lexicon FILE)" in missing.stderr


@pytest.mark.parametrize("options, message", [
    (["--batch-size", "0"], "batch size must be a whole number of at least 1, got 0"),
    (["--batch-size", "-1"], "batch size must be a whole number of at least 1, got -1"),
    (["--decoder", "beam", "--beam-width", "0"], "beam width must be a whole number of at least 1, got 0"),
    (["--decoder", "lexicon", "--lexicon", "EMPTY"], "EMPTY: no word of it can be written in the model's charset"),
    (["--decoder", "lexicon", "--lexicon", "MISSING"], "MISSING: no such lexicon file"),
])
def test_predict_refuses_bad_reading_options_in_one_line(tiny_checkpoint, tmp_path, options, message):
    (tmp_path / "EMPTY").write_text("\n\n")
    options = [str(tmp_path / o) if o in ("EMPTY", "MISSING") else o for o in options]
    message = message.replace("EMPTY", str(tmp_path / "EMPTY")).replace("MISSING", str(tmp_path / "MISSING"))
    result = run_script("predict.py", str(SAMPLES / "simply.jpg"), "--checkpoint", str(tiny_checkpoint), *options)
    assert result.returncode == 2 and result.stderr == f"error: {message}\n" and not result.stdout


def test_predict_json_has_character_confidences_and_failed_images(tiny_checkpoint, tmp_path):
    shutil.copy(SAMPLES / "simply.jpg", tmp_path / "simply.jpg")
    (tmp_path / "notes.png").write_text("not an image")
    result = run_script("predict.py", str(tmp_path), "--checkpoint", str(tiny_checkpoint), "--format", "json")
    assert result.returncode == 2
    rows = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert "not an image" in rows["notes.png"]["error"]
    read = rows["simply.jpg"]
    assert len(read["char_confidences"]) == len(read["steps"]) == len(read["text"])


def test_predict_keeps_one_line_per_image_whatever_the_file_name(tiny_checkpoint, tmp_path):
    odd = tmp_path / "a\tb\nc.jpg"
    shutil.copy(SAMPLES / "simply.jpg", odd)
    for fmt in ("text", "tsv"):
        result = run_script("predict.py", str(odd), "--checkpoint", str(tiny_checkpoint), "--format", fmt)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()[(fmt == "tsv"):]
        assert len(lines) == 1 and "a\\tb\\nc.jpg" in lines[0]
        assert len(lines[0].split("\t")) == (3 if fmt == "tsv" else 1)


def test_an_empty_reading_is_shown_as_empty_quotes(tmp_path, monkeypatch, capsys):
    import argparse

    from ocr.reading import commands
    from ocr.text.decoding import Prediction

    class Blank:
        def read_each(self, paths):
            return [(p, Prediction("", 0.5)) for p in paths]

    monkeypatch.setattr(commands, "load_recognizer", lambda args: Blank())
    shutil.copy(SAMPLES / "simply.jpg", tmp_path / "x.jpg")
    args = argparse.Namespace(inputs=[str(tmp_path / "x.jpg")], format="text")
    assert commands.predict(args) == 0
    assert capsys.readouterr().out == f'{tmp_path / "x.jpg"}  ""  0.500\n'


def test_help_shows_the_defaults():
    result = run_script("predict.py", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "(default: lm)" in text and "(default: auto)" in text and "(default: 64)" in text
    assert "(default: None)" not in text


@pytest.mark.parametrize("script", ["predict.py", "evaluate.py", "ocr/reading/export.py", "ocr/data/prerender.py",
                                    "ocr/reading/slim.py"])
def test_help_starts_without_pytorch(script):
    # importing torch alone takes one to two seconds: a command imports it only to work
    assert "torch" not in modules_loaded_by(script, "--help")


def test_reading_with_the_int8_export_starts_without_pytorch():
    from ocr.assets import DEFAULT_MODEL
    from ocr.reading.backends import fast_int8

    if fast_int8(DEFAULT_MODEL) is None:
        pytest.skip("the int8 export is not used on this machine (needs onnxruntime and an x86 CPU with AVX2)")
    loaded = modules_loaded_by("predict.py", str(SAMPLES / "simply.jpg"))
    assert "onnxruntime" in loaded and "torch" not in loaded


def test_the_second_look_can_be_switched_off(tiny_checkpoint):
    result = run_script("predict.py", str(SAMPLES), "--checkpoint", str(tiny_checkpoint), "--no-second-look")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == len(SAMPLE_NAMES)
