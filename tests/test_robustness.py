"""Bad input, hostile checkpoints, and interrupted runs: clear errors, nothing lost."""
import copy
import csv
import errno
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from ocr import CheckpointError, ImageLoadError
from ocr.data.labels import DatasetError, read_labels
from ocr.data.transforms import Preprocess, load_image
from ocr.reading.checkpoint import safe_load
from ocr.reading.inputs import expand_inputs
from ocr.text.charset import Charset
from tests.conftest import ROOT, SAMPLES, TINY, run_script, tiny_config

WORD = Image.open(SAMPLES / "street.png").convert("RGB")
STREET = (SAMPLES / "street.png").read_bytes()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming ``width x height`` (gray), with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def exif_rotated_jpeg(image: Image.Image) -> bytes:
    """``image`` stored turned a quarter left, with EXIF orientation 6 (turn right to display)."""
    image = image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def encoded(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()



# name, file bytes, expected: a phrase of the one-line error, or the (width, height) read
IMAGE_CASES = [
    ("corrupt.jpg", b"\xff\xd8\xff\xe0" + random.Random(0).randbytes(200), "unreadable"),
    ("truncated.png", STREET[: len(STREET) // 2], "truncated"),
    ("zero.png", b"", "empty file"),
    ("notes.png", b"shopping list: milk, eggs", "not an image"),
    ("dot.png", encoded(Image.new("RGB", (1, 1)), "PNG"), "1x1 pixels"),
    ("huge.png", png_header_only(20000, 20000), "too large"),
    ("bomb.png", png_header_only(10000, 10000), "too large"),
    ("cmyk.jpg", encoded(WORD.convert("CMYK"), "JPEG"), WORD.size),
    ("deep16.png", encoded(WORD.convert("L").point(lambda v: v * 256, "I").convert("I;16"), "PNG"), WORD.size),
    ("palette.png", encoded(WORD.convert("P"), "PNG"), WORD.size),
    ("rgba.png", encoded(WORD.convert("RGBA"), "PNG"), WORD.size),
    ("grey.png", encoded(WORD.convert("L"), "PNG"), WORD.size),
    ("rotated.jpg", exif_rotated_jpeg(WORD), WORD.size),
    ("straße café.png", STREET, WORD.size),
]


@pytest.mark.parametrize("name, data, expected", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_image_inputs_are_read_or_refused_clearly(tmp_path, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    if isinstance(expected, str):
        with pytest.raises(ImageLoadError) as err:
            load_image(path)
        message = str(err.value)
        assert message.startswith(str(path)) and expected in message and "\n" not in message
    else:
        image = load_image(path)
        assert image.size == expected and image.mode in ("RGB", "L")
        pixels, _ = Preprocess()(image)
        assert pixels.shape[1] == 32 and pixels.std() > 0.05  # real content, not a blank page


def test_a_photo_over_the_pixel_limit_is_read_when_its_jpeg_decodes_reduced(tmp_path, monkeypatch):
    # a 108-megapixel phone photo was refused, though its JPEG decodes at 1/8 scale cheaply; here
    # Pillow's limit is lowered, so that a small photo stands for it
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_500_000)
    photo = WORD.convert("RGB").resize((2400, 1000))
    photo.save(tmp_path / "photo.jpg", quality=90)
    photo.save(tmp_path / "photo.png")
    for source in (tmp_path / "photo.jpg", (tmp_path / "photo.jpg").read_bytes()):
        assert load_image(source, shortest=128).size == (600, 250)  # decoded at 1/4 scale
    for source, shortest in ((tmp_path / "photo.jpg", None), (tmp_path / "photo.png", 128),
                             ((tmp_path / "photo.png").read_bytes(), 128)):
        with pytest.raises(ImageLoadError, match="image too large .2400x1000 pixels to decode"):
            load_image(source, shortest=shortest)


def test_predict_reads_the_good_images_of_the_table(tiny_checkpoint, tmp_path):
    for name, data, _ in IMAGE_CASES:
        (tmp_path / name).write_bytes(data)
    result = run_script("predict.py", str(tmp_path), "--checkpoint", str(tiny_checkpoint))
    assert result.returncode == 2
    read = {Path(line.split("  ")[0]).name for line in result.stdout.splitlines()}
    assert read == {name for name, _, expected in IMAGE_CASES if not isinstance(expected, str)}
    assert len(result.stderr.strip().splitlines()) == sum(isinstance(e, str) for _, _, e in IMAGE_CASES)


def test_folders_mixed_with_other_files_give_only_images(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.png").write_bytes(STREET)
    (tmp_path / "readme.txt").write_text("hello")
    paths, errors = expand_inputs([str(tmp_path), str(tmp_path / "nope")])
    assert paths == [tmp_path / "a.png"] and errors == [f"{tmp_path / 'nope'}: no such file or folder"]


def test_broken_symbolic_links_are_named_not_dropped(tmp_path):
    (tmp_path / "a.png").write_bytes(STREET)
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    paths, errors = expand_inputs([str(tmp_path), str(tmp_path / "gone.png"), str(tmp_path / "*.png")])
    assert paths == [tmp_path / "a.png", tmp_path / "a.png"]
    dangling = f"{tmp_path / 'gone.png'}: dangling symbolic link (to {tmp_path / 'nowhere.png'})"
    loop = f"{tmp_path / 'loop.png'}: symbolic link loop"
    assert errors == [dangling, loop, dangling, dangling, loop]


def write_dataset(root: Path) -> None:
    (root / "images").mkdir(parents=True)
    (root / "images" / "ok.png").write_bytes(STREET)
    (root / "images" / "bad.png").write_bytes(b"garbage")
    lines = [
        "images/ok.png\tStreet",  # 1: fine
        "images/ok.png Street",  # 2: no TAB
        "images/ok.png\t",  # 3: empty label
        "images/ok.png\tStraße",  # 4: 'ß' is outside the charset
        "images/missing.png\tgone",  # 5: missing image
        "images/bad.png\tbad",  # 6: unreadable image
        "images/ok.png\tagain",  # 7: fine
    ]
    (root / "labels.tsv").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))  # BOM + CRLF


def test_label_problems_are_skipped_and_reported_with_line_numbers(tmp_path, caplog):
    write_dataset(tmp_path)
    items = read_labels(tmp_path, Charset("abcdefghijklmnopqrstuvwxyzS", unknown="error"))
    assert [label for _, label in items] == ["Street", "again"]
    reported = " ".join(caplog.messages)
    for line, phrase in [(2, "no TAB"), (3, "empty label"), (4, "'ß'"), (5, "no such file"), (6, "not an image")]:
        assert f"labels.tsv:{line}: " in reported and phrase in reported


def test_strict_label_checking_fails_before_training(tmp_path):
    write_dataset(tmp_path)
    with pytest.raises(DatasetError, match=r"5 problems .*labels.tsv:2: no TAB"):
        read_labels(tmp_path, Charset("abcdefghijklmnopqrstuvwxyzS", unknown="error"), strict=True)


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"charset": RunsCode()}}, path)
    with pytest.raises(CheckpointError, match=r"refused: it holds pickled code .*GLOBAL posix.system.*weights_only=True\)$") as refused:
        safe_load(path)
    assert not (tmp_path / "pwned").exists()
    assert "weights_only` set to `False`" not in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(("content", "why"), [
    (b"hello\n", r"not a file torch.save writes, a zip archive starting with PK; it starts with b'hello\\n'"),
    (b"", "the file is empty"),
    (bytes(range(256)) * 4, r"not a file torch.save writes, .* it starts with b'\\x00\\x01"),
    (b"\xff\xd8\xff\xe0" + bytes(40), r"not a file torch.save writes, .* it starts with b'\\xff\\xd8"),  # a JPEG
    (b"PK\x03\x04" + bytes(40), r"RuntimeError: PytorchStreamReader failed reading zip archive: [^.]*\)$"),  # cut short
], ids=["text", "empty", "random bytes", "jpeg", "truncated zip"])
def test_a_file_that_is_not_a_checkpoint_is_one_line_naming_it(tmp_path, content, why):
    path = tmp_path / "x.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"x\.ckpt: not a readable checkpoint \(" + why) as err:
        safe_load(path)
    assert "\n" not in str(err.value)


def test_a_checkpoint_that_cannot_be_opened_is_one_line_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "x.ckpt"
    path.write_bytes(b"PK\x03\x04")

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "open", refused)  # as a file of another user (the tests may run as root)
    with pytest.raises(CheckpointError, match=r"^.*x\.ckpt: not a readable checkpoint \(cannot be read: Permission denied\)$"):
        safe_load(path)


def test_resuming_with_another_charset_is_a_clear_error(tiny_checkpoint, tmp_path):
    from ocr.train.wiring import train

    with pytest.raises(CheckpointError, match="its charset config differs"):
        train(tiny_config("charset=lower36", f"ckpt_path={tiny_checkpoint}"), tmp_path / "run")


def test_a_run_from_before_the_stem_option_resumes_and_another_stem_is_refused(tmp_path):
    from ocr.train.checkpoint_io import check_resumable

    hparams = OmegaConf.to_container(tiny_config(), resolve=True)
    older = copy.deepcopy(hparams)
    del older["model"]["backbone"]["stem"]
    path = tmp_path / "older.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": older}, path)
    check_resumable(path, hparams)  # its stem is the paper's, as this config's
    hparams["model"]["backbone"]["stem"] = "strided"
    with pytest.raises(CheckpointError, match="its model config differs .*backbone"):
        check_resumable(path, hparams)


def start_training(run_dir: Path, *overrides: str) -> subprocess.Popen:
    args = [*TINY, "trainer.max_steps=100000", "data.synth.epoch_size=64", f"hydra.run.dir={run_dir}", *overrides]
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, "training ended early"
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_sigkill_mid_run_then_resume_continues_from_the_saved_step(tmp_path):
    run = tmp_path / "killed"
    process = start_training(run, "checkpoint.every_n_train_steps=3")
    last = run / "checkpoints" / "last.ckpt"
    wait_for(last, process)
    first_step = safe_load(last)["global_step"]
    while safe_load(last)["global_step"] < first_step + 6:  # let it overwrite the file a few times
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    for ckpt in (run / "checkpoints").glob("*.ckpt"):
        safe_load(ckpt)  # nothing half-written under a checkpoint name
    saved = safe_load(last)["global_step"]
    from ocr.train.wiring import train

    trainer = train(tiny_config(f"ckpt_path={last}", f"trainer.max_steps={saved + 4}"), tmp_path / "resumed")
    assert trainer.global_step == saved + 4


def test_ctrl_c_saves_a_checkpoint_before_exiting(tmp_path):
    run = tmp_path / "interrupted"
    process = start_training(run, "checkpoint.every_n_train_steps=100000", "trainer.log_every_n_steps=1000")
    try:
        wait_for(run / "checkpoints" / "best.ckpt", process)  # first validation done: training is under way
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()  # a run that did not stop must not slow the tests after this one
    saved = safe_load(run / "checkpoints" / "last.ckpt")["global_step"]
    assert saved >= 4
    losses = [row for row in csv.DictReader((run / "metrics.csv").open()) if row.get("train/loss")]
    assert int(losses[-1]["step"]) == saved - 1  # the last step's loss, though only every 1000th is logged


def test_a_full_disk_is_named_and_the_old_checkpoint_kept(tmp_path, monkeypatch):
    from ocr.reading.checkpoint import CheckpointWriteError, atomic_save

    path = tmp_path / "last.ckpt"
    atomic_save({"step": 1}, path)

    def short_write(obj, f):
        f.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 4096 vs 4000")

    monkeypatch.setattr(torch, "save", short_write)
    with pytest.raises(CheckpointWriteError) as err:
        atomic_save({"step": 2}, path)
    assert str(err.value) == f"{path}: no space left on the device; the previous last.ckpt is kept"
    monkeypatch.undo()
    assert safe_load(path) == {"step": 1} and [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_partial_checkpoints_of_killed_runs_are_removed_at_start(tmp_path):
    from ocr.reading.checkpoint import remove_stale_temporaries

    gone = subprocess.Popen(["true"])
    gone.wait()
    stale, live = tmp_path / f".last.ckpt.{gone.pid}.tmp", tmp_path / f".last.ckpt.{os.getpid()}.tmp"
    stale.write_bytes(b"half"), live.write_bytes(b"being written")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and live.exists()


def test_an_image_that_breaks_mid_epoch_is_skipped(tmp_path):
    from ocr.data.datasets import LabelledFolder

    (tmp_path / "a.png").write_bytes(STREET)
    (tmp_path / "b.png").write_bytes(STREET)
    (tmp_path / "labels.tsv").write_text("a.png\tStreet\nb.png\tother\n")
    dataset = LabelledFolder(tmp_path, Charset("abcdefghijklmnopqrstuvwxyzS"), Preprocess())
    (tmp_path / "a.png").write_bytes(b"overwritten by something else")  # after validation
    assert dataset[0].text == "other"


def test_weights_that_do_not_fit_their_config_are_a_clear_error(tiny_checkpoint, tmp_path):
    from ocr import Recognizer

    ckpt = safe_load(tiny_checkpoint)
    ckpt["hyper_parameters"]["charset"]["chars"] = "abc"  # a checkpoint edited to another charset
    edited = tmp_path / "edited.ckpt"
    torch.save(ckpt, edited)
    with pytest.raises(CheckpointError, match="weights do not fit the checkpoint's own model config"):
        Recognizer.load(edited)


EVALUATE_CASES = {  # name: (labels.tsv bytes, phrase on stderr; None: the folder is scored)
    "no TAB": (b"street.png Street\n", "labels.tsv:1: no TAB between image path and label"),
    "not UTF-8": ("street.png\tStra\u00dfe\n".encode("latin-1"), "labels.tsv: not UTF-8 text (byte 15)"),
    "empty file": (b"", "labels.tsv: no labelled image"),
    "path out of the folder": (b"../good/street.png\tStreet\n", "labels.tsv:1: image path '../good/street.png' is "
                                                                "outside the folder"),
    "absolute path": (f"{SAMPLES / 'street.png'}\tStreet\n".encode(), "is outside the folder"),
    "no labels.tsv": (None, "bad: no labels.tsv in this folder"),
    "empty label": (b"street.png\t\nstreet.png\tStreet\n", None),
}


@pytest.mark.parametrize("case", EVALUATE_CASES)
def test_evaluate_names_a_bad_label_file_and_scores_the_other_folders(case, tiny_checkpoint, tmp_path, monkeypatch,
                                                                      capsys, caplog):
    from ocr.reading.commands import evaluate_main

    labels, phrase = EVALUATE_CASES[case]
    for name in ("good", "bad"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "street.png").write_bytes(STREET)
    (tmp_path / "good" / "labels.tsv").write_text("street.png\tStreet\n")
    if labels is not None:
        (tmp_path / "bad" / "labels.tsv").write_bytes(labels)
    out = tmp_path / "new" / "folder" / "scores.json"
    monkeypatch.setattr(sys, "argv", ["evaluate.py", str(tmp_path / "bad"), str(tmp_path / "good"),
                                      "--checkpoint", str(tiny_checkpoint), "--json", str(out)])
    code = evaluate_main()
    captured = capsys.readouterr()
    scored = json.loads(out.read_text())["sets"]
    if phrase is None:
        assert code == 0 and scored["bad"]["words"] == 1
        assert "1 line(s) with an empty label not scored" in caplog.text
    else:
        assert code == 2 and set(scored) == {"good"}
        assert captured.err.count("\n") == 1 and captured.err.startswith(f"error: {tmp_path / 'bad'}")
        assert phrase in captured.err


@pytest.mark.parametrize("target", ["folder", "file in a file"])
def test_evaluate_refuses_an_unwritable_output_before_reading(target, tiny_checkpoint, tmp_path, monkeypatch, capsys):
    from ocr.reading.commands import evaluate_main

    (tmp_path / "a_file").write_text("x")
    out = tmp_path if target == "folder" else tmp_path / "a_file" / "errors.tsv"
    monkeypatch.setattr(sys, "argv", ["evaluate.py", str(SAMPLES), "--checkpoint", str(tiny_checkpoint),
                                      "--errors", str(out)])
    assert evaluate_main() == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"error: {out}: ") and captured.err.count("\n") == 1


@pytest.mark.parametrize("command", [["ocr.reading.export", "--format", "onnx", "--out", "{out}", "--checkpoint", "{ckpt}"],
                                     ["ocr.reading.slim", "{ckpt}", "{out}"]])
@pytest.mark.parametrize("content", [b"hello\n", None])
def test_export_and_slim_name_a_bad_checkpoint_in_one_line(command, content, tmp_path):
    ckpt, out = tmp_path / "model.ckpt", tmp_path / "out.file"
    if content is not None:
        ckpt.write_bytes(content)
    args = [a.format(ckpt=ckpt, out=out) for a in command]
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.startswith(f"error: {ckpt}: ") and result.stderr.count("\n") == 1, result.stderr


def test_a_checkpoint_whose_config_asks_for_an_absurd_size_is_refused_before_allocating(tiny_checkpoint, tmp_path):
    """hidden_size 30000 would allocate about 14 GB before load_state_dict noticed the mismatch."""
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ckpt["hyper_parameters"]["rnn"]["hidden_size"] = 30000
    torch.save(ckpt, tmp_path / "absurd.ckpt")
    result = run_script("predict.py", str(SAMPLES / "simply.jpg"), "--checkpoint", str(tmp_path / "absurd.ckpt"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'absurd.ckpt'}: weights do not fit the checkpoint's own "
                                    "model config (model.sequence.rnn.")
    assert "the config asks for (120000, " in result.stderr
