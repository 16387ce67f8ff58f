"""Font files for the renderers: the installed ``fontpkg-*`` families and extra folders."""
from __future__ import annotations

import logging
import re
import string
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat

log = logging.getLogger(__name__)


def installed_fonts(extra_dirs: list[str] | tuple[str, ...] = (), case_sensitive: bool = True) -> list[Path]:
    """Upright font files of every installed ``fontpkg-*`` family, plus extra folders.

    With ``case_sensitive`` labels, caps-only faces (whose lowercase letters are capitals)
    are left out: they would teach the model to read "OPEN" where the label says "open".
    """
    import fontpkg

    paths = [f.path for fam in fontpkg.families().values() for f in fam.files if f.style == "normal"]
    for folder in extra_dirs:  # the packaged families are known to be Latin text faces; these are not
        found = sorted(p for p in Path(folder).expanduser().rglob("*") if p.suffix.lower() in (".ttf", ".otf"))
        for path in found:
            if lacks_latin(path):
                log.warning("%s: skipped: unreadable, or no glyph for some of a-z, A-Z, 0-9 (a symbol font?)", path)
            else:
                paths.append(path)
    paths = sorted(set(paths))
    if case_sensitive:
        paths = [p for p in paths if not is_caps_only(p)]
    if not paths:
        raise RuntimeError("no fonts found: install the fontpkg-* dependencies (pip install -e .)")
    return paths


@lru_cache(maxsize=None)
def lacks_latin(path: Path) -> bool:
    """True for symbol, non-Latin or unreadable font files: some of a-z, A-Z, 0-9 have no glyph."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        cmap = TTFont(str(path), lazy=True).getBestCmap() or {}
    except (TTLibError, OSError, AssertionError, KeyError):
        return True
    return any(ord(c) not in cmap for c in string.ascii_letters + string.digits)


@lru_cache(maxsize=None)
def is_caps_only(path: Path) -> bool:
    """True when the font's lowercase letters are its capitals (drawn at any size)."""
    font = ImageFont.truetype(str(path), 48)

    def shape(ch: str) -> Image.Image:
        image = Image.new("L", (96, 96), 0)
        ImageDraw.Draw(image).text((16, 16), ch, font=font, fill=255)
        return image.crop(image.getbbox() or (0, 0, 1, 1)).resize((24, 24), Image.Resampling.BILINEAR)

    differences = sorted(ImageStat.Stat(ImageChops.difference(shape(c), shape(c.upper()))).mean[0] for c in "aegmr")
    return differences[2] < 15  # normal faces differ by 30 or more (of 255) on most letters


def font_families(paths: list[Path]) -> list[list[Path]]:
    """Group font files by family (the file name before ``-`` or ``[``), so that a family
    with eighteen static weights is drawn no more often than one with a single file."""
    families: dict[str, list[Path]] = {}
    for path in paths:
        families.setdefault(re.split(r"[-\[]", path.stem)[0], []).append(path)
    return list(families.values())


@lru_cache(maxsize=8192)
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A cached font; ``.axes`` lists its variation axes (empty for a static font)."""
    font = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    try:
        font.axes = font.get_variation_axes()
    except OSError:  # not a variable font
        font.axes = []
    return font
