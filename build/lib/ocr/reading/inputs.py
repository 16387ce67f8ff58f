"""Expand command-line inputs (files, folders, glob patterns) into image paths."""
from __future__ import annotations

import errno
import glob
import os
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def expand_inputs(args: list[str]) -> tuple[list[Path], list[str]]:
    """Image paths for ``args`` in order, and one error line per argument that matched nothing
    and per broken symbolic link (dangling or a loop) among them.

    A file is taken as is (a non-image is reported when read); a folder gives its image
    files (by suffix, sorted, not recursive); anything else is tried as a glob pattern.
    """
    paths: list[Path] = []
    errors: list[str] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            reported = len(errors)
            found = _files(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), errors)
            if not found and len(errors) == reported:
                errors.append(f"{arg}: folder has no image files")
            paths += found
        elif path.exists():
            paths.append(path)
        elif path.is_symlink():
            errors.append(f"{arg}: {_broken_link(path)}")
        elif matches := sorted(glob.glob(arg, recursive=True)):
            paths += _files([Path(m) for m in matches if not Path(m).is_dir()], errors)
        else:
            errors.append(f"{arg}: no such file or folder")
    return paths, errors


def _files(candidates: list[Path], errors: list[str]) -> list[Path]:
    """The files among ``candidates``; each broken symbolic link among them is an error line."""
    files = []
    for path in candidates:
        if path.is_file():
            files.append(path)
        elif path.is_symlink():
            errors.append(f"{path}: {_broken_link(path)}")
    return files


def _broken_link(path: Path) -> str:
    """What is wrong with a symbolic link that leads to no file."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"dangling symbolic link (to {os.readlink(path)})"
    return "symbolic link to something that is not a file"
