"""Fonts the renderer draws with: matplotlib's bundled TrueType faces, found without importing matplotlib."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from PIL import ImageFont

FONT_FILES = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "sans-oblique": "DejaVuSans-BoldOblique.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "serif-italic": "DejaVuSerif-Italic.ttf",
    "stix": "STIXGeneral.ttf",
    "stix-bold": "STIXGeneralBol.ttf",
    "stix-italic": "STIXGeneralBolIta.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono-bold": "DejaVuSansMono-Bold.ttf",
}
DISPLAY_FONTS = ("sans-bold", "serif-bold", "stix-bold", "sans-oblique", "stix-italic", "mono-bold")
TEXT_FONTS = ("sans", "serif", "stix", "mono", "serif-italic")


@functools.cache
def font_dir() -> Path:
    """matplotlib's bundled TrueType fonts (found without importing matplotlib)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the procedural backend needs matplotlib's fonts; install matplotlib"
        )
    path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    if not path.is_dir():
        raise FileNotFoundError(f"matplotlib font folder not found: {path}")
    return path


@functools.lru_cache(maxsize=512)
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_dir() / FONT_FILES[name]), max(4, int(size)))
