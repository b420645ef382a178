"""The procedural backend: deterministic per row, artwork-like, every layout renders."""

from __future__ import annotations

import numpy as np
import pytest

from gasr_hf.generate.procedural import FONT_FILES, LAYOUTS, font_dir, render_artwork
from gasr_hf.prompts import build_prompts


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return build_prompts("artwork", 12, 0).to_list()


def test_same_row_gives_same_pixels_and_seed_changes_them(rows: list[dict]) -> None:
    row = rows[0]
    first = np.asarray(render_artwork(row, 96, 96))
    again = np.asarray(render_artwork(dict(row), 96, 96))
    assert np.array_equal(first, again)
    reseeded = np.asarray(render_artwork({**row, "seed": row["seed"] + 1}, 96, 96))
    assert not np.array_equal(first, reseeded)


def test_images_have_the_size_and_are_not_flat(rows: list[dict]) -> None:
    for row in rows:
        image = render_artwork(row, 128, 96)
        assert image.size == (128, 96) and image.mode == "RGB"
        pixels = np.asarray(image).reshape(-1, 3)
        assert pixels.std(axis=0).max() > 20
        assert len(np.unique(pixels[::7], axis=0)) > 8


@pytest.mark.parametrize(
    ("component", "layout"),
    [
        ("a six-panel comic page", "comic"),
        ("a concert ticket", "ticket"),
        ("a bar chart", "chart"),
        ("a nautical chart", "chart"),
        ("a subway map", "map"),
        ("a batik textile", "pattern"),
        ("a newspaper front page", "textpage"),
        ("a beer label", "label"),
        ("a magazine cover", "cover"),
        ("a road sign", "signage"),
        ("a movie poster", "poster"),
        ("a manga volume cover", "manga_cover"),
        ("a black-and-white manga page", "manga_page"),
        ("a four-panel yonkoma strip", "manga_page"),
    ],
)
def test_every_layout_renders(component: str, layout: str) -> None:
    from gasr_hf.generate.procedural import LAYOUT_KEYWORDS, pick_by_keywords

    assert layout in LAYOUTS
    assert pick_by_keywords(component, LAYOUT_KEYWORDS, None, []) == layout
    for seed in range(3):
        row = {"seed": seed, "style": "Bauhaus", "components": [component, "an owl"]}
        assert render_artwork(row, 80, 80).size == (80, 80)


def test_fonts_are_matplotlibs() -> None:
    for name in FONT_FILES.values():
        assert (font_dir() / name).is_file()


def test_japanese_font_comes_from_the_install_and_draws_kana_and_kanji() -> None:
    from gasr_hf.generate.procedural.fonts import cjk_font, cjk_font_path

    assert cjk_font_path().is_file()
    light, heavy = cjk_font(48, 200), cjk_font(48, 900)
    masks = {ch: np.asarray(heavy.getmask(ch)) for ch in "漫画あア"}
    assert all(m.size and m.max() == 255 for m in masks.values())
    assert len({m.tobytes() for m in masks.values()}) == 4  # no tofu box shared by all
    ink = [np.asarray(f.getmask("漫")).astype(int).sum() for f in (light, heavy)]
    assert ink[1] > 1.5 * ink[0]  # the weight axis is applied
    with pytest.raises(ValueError, match="weight must be in 100..900, got 1000"):
        cjk_font(20, 1000)


def test_manga_pages_are_black_and_white_ink_with_fine_texture() -> None:
    row = {"seed": 3, "style": "Shonen manga", "components": ["a black-and-white manga page"]}
    pixels = np.asarray(render_artwork(row, 256, 256)).astype(int)
    assert np.abs(pixels - pixels.mean(axis=2, keepdims=True)).max() <= 12  # grey: ink on paper
    grey = pixels.mean(axis=2)
    assert (grey < 60).mean() > 0.05 and (grey > 200).mean() > 0.3
    steps = np.abs(np.diff(grey, axis=1)) > 100  # ink edges: lines, dots, lettering
    assert steps.mean() > 0.02


def test_manga_covers_are_colour_illustrations() -> None:
    row = {"seed": 5, "style": "Shojo manga", "components": ["a manga volume cover"]}
    pixels = np.asarray(render_artwork(row, 256, 256)).astype(int)
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    assert (saturation > 60).mean() > 0.1
    assert len(np.unique(pixels.reshape(-1, 3)[::3], axis=0)) > 500  # shading and antialiased ink
