"""Labelled folders: images plus ``labels.tsv`` (one ``image path<TAB>label`` line per
image), read for scoring as they are and for training normalised into a charset. Imports no
PyTorch."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from ocr.data.transforms import load_image
from ocr.text.charset import Charset, charset_warning

log = logging.getLogger(__name__)
LABELS_FILE = "labels.tsv"
MAX_REPORTED = 20
# an image is checked decoded no smaller than this on its shorter side (a JPEG at a reduced
# scale where it is far larger): it reads or fails all the same, and a phone photo costs
# a sixth of the time; a crop smaller than twice this is decoded as it is
CHECK_SIDE = 64


class DatasetError(ValueError):
    """A dataset folder has problems and ``data.strict`` is set."""


def label_lines(root: str | Path) -> Iterator[tuple[str, str | None, str]]:
    """``(file:line, relative image path or None if the line has no TAB, raw label)`` per non-blank line.

    Reads UTF-8 with or without a BOM; CRLF line ends are fine. A missing or non-UTF-8
    labels file is a :class:`DatasetError` naming it.
    """
    labels_file = Path(root) / LABELS_FILE
    if not labels_file.is_file():
        what = "no such folder" if not Path(root).is_dir() else f"no {LABELS_FILE} in this folder"
        raise DatasetError(f"{root}: {what} (a labelled folder holds the images and {LABELS_FILE}, "
                           "one 'image path<TAB>label' line per image)")
    try:
        text = labels_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetError(f"{labels_file}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            rel, sep, raw = line.partition("\t")
            yield f"{labels_file}:{n}", (rel if sep else None), raw


def image_in_folder(root: str | Path, rel: str) -> Path:
    """``root / rel``; a ``ValueError`` when ``rel`` is absolute or leads out of ``root``."""
    path = Path(root) / rel
    if Path(rel).is_absolute() or not path.resolve().is_relative_to(Path(root).resolve()):
        raise ValueError(f"image path {rel!r} is outside the folder")
    return path


def read_label_file(root: str | Path) -> list[tuple[Path, str]]:
    """``(image path, raw label)`` per line, for scoring. A line without a TAB or naming an
    image outside the folder is a :class:`DatasetError`; a line with an empty label is
    skipped with a warning; a file without any labelled image is a :class:`DatasetError`."""
    items, empty = [], []
    for where, rel, raw in label_lines(root):
        if rel is None:
            raise DatasetError(f"{where}: no TAB between image path and label")
        try:
            path = image_in_folder(root, rel)
        except ValueError as err:
            raise DatasetError(f"{where}: {err}") from None
        if raw.strip():
            items.append((path, raw))
        else:
            empty.append(where)
    if empty:
        log.warning("%s: %d line(s) with an empty label not scored, the first %s", root, len(empty), empty[0])
    if not items:
        raise DatasetError(f"{Path(root) / LABELS_FILE}: no labelled image")
    return items


def read_labels(root: str | Path, charset: Charset, strict: bool = False) -> list[tuple[Path, str]]:
    """``(image path, label normalised into charset)`` pairs of a dataset folder, validated.

    Every problem (no TAB, empty label, characters the charset refuses, a missing or
    unreadable image) is reported with file and line before training starts; the line is
    skipped, or with ``strict`` a :class:`DatasetError` lists them all.
    """
    charset.dropped.clear()
    lines = list(label_lines(root))
    items, problems = [], []
    for where, rel, raw in tqdm(lines, desc=f"checking {root}", unit="img", disable=len(lines) < 5000):
        try:
            if rel is None:
                raise ValueError("no TAB between image path and label")
            if not raw.strip():
                raise ValueError("empty label")
            if not (label := charset.normalize(raw)):
                raise ValueError(f"no character of label {raw!r} is in the charset")
            load_image(image_in_folder(root, rel), shortest=CHECK_SIDE)
        except ValueError as err:  # ImageLoadError and UnknownCharacterError are ValueErrors
            problems.append(f"{where}: {err}")
            continue
        items.append((Path(root) / rel, label))
    if (warning := charset_warning(charset.dropped)) is not None:
        log.warning("%s: %s", root, warning)
    if problems and strict:
        raise DatasetError(f"{len(problems)} problems in {root}: " + "; ".join(problems[:20]))
    for problem in problems[:MAX_REPORTED]:
        log.warning("skipped %s", problem)
    if len(problems) > MAX_REPORTED:
        log.warning("skipped %d more problem lines in %s", len(problems) - MAX_REPORTED, root)
    return items
