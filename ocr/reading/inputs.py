"""Expand command-line inputs (files, folders, glob patterns) into image paths."""
from __future__ import annotations

import glob
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def expand_inputs(args: list[str]) -> tuple[list[Path], list[str]]:
    """Image paths for ``args`` in order, and one error line per argument that matched nothing.

    A file is taken as is (a non-image is reported when read); a folder gives its image
    files (by suffix, sorted, not recursive); anything else is tried as a glob pattern.
    """
    paths: list[Path] = []
    errors: list[str] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                errors.append(f"{arg}: folder has no image files")
            paths += found
        elif path.exists():
            paths.append(path)
        elif matches := sorted(glob.glob(arg, recursive=True)):
            paths += [Path(m) for m in matches if Path(m).is_file()]
        else:
            errors.append(f"{arg}: no such file or folder")
    return paths, errors
