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
