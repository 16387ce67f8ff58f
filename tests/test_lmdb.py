"""Pre-rendered LMDB datasets: writing, reading, training from them and from a mix."""
import subprocess
import sys

import lmdb
import pytest

from ocr.data.lmdb_store import LmdbWords, write_lmdb
from ocr.data.sampling import WidthBucketSampler
from ocr.data.transforms import Preprocess
from ocr.text.charset import Charset
from ocr.train.wiring import train
from tests.conftest import ROOT, tiny_config

PRINTABLE = Charset("".join(chr(c) for c in range(33, 127)))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("lmdb") / "words.lmdb"
    result = subprocess.run([sys.executable, "-m", "ocr.data.prerender", "--count", "40", "--out", str(out),
                             "renderer=scene", "data.synth.text.vocabulary_size=2000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def test_prerender_leaves_an_existing_lmdb_alone_with_one_line(rendered):
    before = (rendered / "data.mdb").read_bytes()
    result = subprocess.run([sys.executable, "-m", "ocr.data.prerender", "--count", "4", "--out", str(rendered)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"prerender: {rendered}: already exists and is not empty (nothing written)"]
    assert (rendered / "data.mdb").read_bytes() == before


def test_prerendered_lmdb_has_the_standard_layout_plus_extents(rendered):
    env = lmdb.open(str(rendered), readonly=True, lock=False)
    with env.begin() as txn:
        assert txn.get(b"num-samples") == b"40"
        assert txn.get(b"image-000000001")[:8] == b"\x89PNG\r\n\x1a\n"
        assert txn.get(b"label-000000040") and txn.get(b"extents-000000001")
    env.close()
    dataset = LmdbWords(rendered, PRINTABLE, Preprocess())
    assert len(dataset) == 40 and dataset.has_extents
    example = dataset[0]
    assert example.image.shape[1] == 32 and len(example.extents) == len(example.text)
    assert dataset.widths[0] == example.image.shape[-1] and len(dataset.widths) == 40


def test_width_buckets_cover_every_sample_once_with_less_padding():
    import random

    rng = random.Random(0)
    widths = [rng.randint(32, 256) for _ in range(640)]
    sampler = WidthBucketSampler(widths, batch_size=16, pool_batches=8, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(640))
    padded = lambda idx: sum(max(widths[i] for i in idx[k:k + 16]) for k in range(0, len(idx), 16))  # noqa: E731
    shuffled = list(range(640))
    rng.shuffle(shuffled)
    assert padded(order) < 0.7 * padded(shuffled)
    assert list(sampler) == order
    sampler.set_epoch(1)
    assert list(sampler) != order


def test_weighted_width_buckets_draw_each_source_by_its_weight():
    import random

    rng = random.Random(1)
    widths = [rng.randint(32, 256) for _ in range(1100)]
    weights = [0.5 / 1000] * 1000 + [0.5 / 100] * 100  # two sources, half of the draws each
    sampler = WidthBucketSampler(widths, batch_size=16, pool_batches=8, seed=3, weights=weights, num_samples=3200)
    order = list(sampler)
    assert len(order) == len(sampler) == 3200
    assert 0.45 < sum(i >= 1000 for i in order) / 3200 < 0.55
    padded = sum(max(widths[i] for i in order[k:k + 16]) for k in range(0, 3200, 16))
    unsorted = sum(max(widths[i] for i in rng.sample(range(1100), 16)) for _ in range(200))
    assert padded < 0.7 * unsorted
    assert list(sampler) == order


def test_a_mix_of_an_lmdb_and_a_folder_is_read_in_width_buckets(rendered, tmp_path):
    from PIL import Image

    from ocr.data.sampling import SkippingSampler
    from ocr.train.wiring import build_datamodule

    folder = tmp_path / "photos"
    folder.mkdir()
    for i, width in enumerate((40, 90, 200)):
        Image.new("L", (width, 32), 128).save(folder / f"{i}.png")
    (folder / "labels.tsv").write_text("".join(f"{i}.png\tw{i}\n" for i in range(3)))
    cfg = tiny_config("data=mix", "data.sources.synth=0", "data.sources.lmdb=0.5", "data.sources.folder=0.5",
                      f"data.lmdb_dirs=[{rendered}]", f"data.folder_dirs=[{folder}]")
    datamodule = build_datamodule(cfg, PRINTABLE)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    assert isinstance(loader.sampler, SkippingSampler) and isinstance(loader.sampler.sampler, WidthBucketSampler)
    assert datamodule._parts["folder"].datasets[0].widths == [40, 90, 128]  # clamped to model.input.max_width


def test_an_lmdb_is_written_into_folders_not_made_yet(tmp_path):
    from PIL import Image

    out = tmp_path / "runs" / "lmdb" / "words"
    assert write_lmdb(out, [(Image.new("L", (40, 32), 200), "ok", None)], 1) == 1
    assert (out / "data.mdb").is_file()


def test_a_corrupt_record_is_skipped(tmp_path, rendered):
    from PIL import Image

    good = Image.new("L", (40, 32), 200)
    write_lmdb(tmp_path / "x", [(good, "ok", None), (good, "also", None)], 2)
    env = lmdb.open(str(tmp_path / "x"))
    with env.begin(write=True) as txn:
        txn.put(b"image-000000001", b"broken bytes")
    env.close()
    assert LmdbWords(tmp_path / "x", PRINTABLE, Preprocess())[0].text == "also"


def test_training_from_lmdb_with_ce_and_from_a_mix(rendered, tmp_path):
    trainer = train(tiny_config("data=lmdb", f"data.lmdb_dirs=[{rendered}]", "loss=ce"), tmp_path / "lmdb")
    assert trainer.global_step == 4
    mix = train(tiny_config("data=mix", f"data.lmdb_dirs=[{rendered}]", "data.sources.lmdb=0.5"), tmp_path / "mix")
    assert mix.global_step == 4


def test_writing_over_an_existing_dataset_is_refused(rendered):
    with pytest.raises(FileExistsError, match="already exists"):
        write_lmdb(rendered, [], 0)


def test_preview_grid(tmp_path):
    out = tmp_path / "grid.png"
    result = subprocess.run([sys.executable, "-m", "ocr.data.prerender", "--count", "8", "--preview", str(out),
                             "data.synth.text.vocabulary_size=2000"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.stat().st_size > 1000



def test_workers_read_an_lmdb_the_main_process_has_open(rendered):
    from torch.utils.data import DataLoader

    dataset = LmdbWords(rendered, PRINTABLE, Preprocess())
    first = dataset[0].text  # opens the environment in this process
    loader = DataLoader(dataset, batch_size=None, num_workers=1, multiprocessing_context="fork")
    assert next(iter(loader)).text == first


def test_a_missing_lmdb_folder_says_how_to_render_it(tmp_path):
    from ocr.train.wiring import build_datamodule

    cfg = tiny_config("data=lmdb", f"data.lmdb_dirs=[{tmp_path / 'words'}]")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'words'}: LMDB folder not found; render it first with "
                                                rf"python -m ocr.data.prerender --count N --seed S --out {tmp_path / 'words'}"):
        build_datamodule(cfg, PRINTABLE)


def _damaged_copy(folder, out, damage: str):
    """A copy of the LMDB ``folder`` in ``out`` with its data file damaged as ``damage`` says."""
    import os
    import random
    import shutil

    shutil.copytree(folder, out)
    data = out / "data.mdb"
    raw = bytearray(data.read_bytes())
    noise = random.Random(0).randbytes
    if damage == "truncated":
        raw = raw[: len(raw) // 2]
    elif damage == "random bytes":
        raw = bytearray(noise(len(raw)))
    elif damage == "zero bytes":
        raw = bytearray(len(raw))
    elif damage == "empty":
        raw = bytearray()
    elif damage == "meta pages overwritten":
        raw[: 2 * 4096] = noise(2 * 4096)
    elif damage == "one meta page overwritten":
        raw[16:4096] = noise(4096 - 16)
    elif damage == "data pages overwritten":
        raw[2 * 4096 :] = noise(len(raw) - 2 * 4096)
    data.write_bytes(bytes(raw))
    os.utime(data)
    return out


READ_ALL = """
import sys
from ocr.data.lmdb_store import CorruptLmdbError, LmdbWords
from ocr.data.transforms import Preprocess
from ocr.text.charset import Charset
try:
    words = LmdbWords(sys.argv[1], Charset("".join(chr(c) for c in range(33, 127))), Preprocess())
    texts = [words[i].text for i in range(len(words))]
    print(len(texts), words.skipped)
except CorruptLmdbError as err:
    sys.exit(f"error: {err}")
"""


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "zero bytes", "empty", "meta pages overwritten",
                                    "one meta page overwritten", "data pages overwritten"])
def test_a_damaged_lmdb_is_one_error_line_naming_it_or_its_bad_records_are_skipped(damage, rendered, tmp_path):
    # a truncated data.mdb used to kill the process with SIGBUS, the others to end in lmdb tracebacks
    folder = _damaged_copy(rendered, tmp_path / "words", damage)
    result = subprocess.run([sys.executable, "-c", READ_ALL, str(folder)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode in (0, 1), result.stderr[-2000:]  # not killed by a signal (negative)
    if result.returncode:
        assert result.stderr.startswith(f"error: {folder}: ") and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr
    else:  # damage only in records: each one that fails is skipped and counted
        read, skipped = map(int, result.stdout.split())
        assert read == 40 and skipped > 0


def test_training_from_a_truncated_lmdb_stops_at_start_with_one_line(rendered, tmp_path):
    folder = _damaged_copy(rendered, tmp_path / "words", "truncated")
    result = subprocess.run([sys.executable, "train.py", "data=lmdb", f"data.lmdb_dirs=[{folder}]",
                             "trainer.max_steps=2", f"hydra.run.dir={tmp_path / 'run'}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {folder}: data.mdb is truncated")
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()
