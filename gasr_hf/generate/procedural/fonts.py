"""Fonts the renderer draws with, found without importing their packages: matplotlib's bundled
TrueType faces for Latin text and Noto Sans JP (SIL Open Font License 1.1, from the
``justmytype-intl-cjk`` package) for Japanese kana and kanji, a variable font drawn at any weight."""

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


CJK_PACKAGE = "justmytype_intl_cjk"
CJK_FONT = Path("fonts") / "ofl" / "notosansjp" / "NotoSansJP[wght].ttf"


@functools.cache
def cjk_font_path() -> Path:
    """Noto Sans JP inside the ``justmytype-intl-cjk`` package (a dependency of gasr_hf)."""
    spec = importlib.util.find_spec(CJK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the procedural backend needs Noto Sans JP; install justmytype-intl-cjk"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / CJK_FONT
    if not path.is_file():
        raise FileNotFoundError(f"Noto Sans JP not found in {CJK_PACKAGE}: {path}")
    return path


@functools.lru_cache(maxsize=256)
def cjk_font(size: int, weight: int = 400) -> ImageFont.FreeTypeFont:
    """Noto Sans JP at ``size`` pixels and ``weight`` (100-900, the font's weight axis)."""
    if not 100 <= weight <= 900:
        raise ValueError(f"cjk_font: weight must be in 100..900, got {weight}")
    face = ImageFont.truetype(str(cjk_font_path()), max(4, int(size)))
    face.set_variation_by_axes([weight])
    return face
