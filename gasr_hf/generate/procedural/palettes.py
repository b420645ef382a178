"""Colour palettes, grouped by the style family a row's style picks."""

from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[int, int, int]


def hex_rgb(colour: str) -> RGB:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@dataclass(frozen=True)
class Palette:
    paper: RGB
    ink: RGB
    colours: tuple[RGB, ...]


def _palette(paper: str, ink: str, *colours: str) -> Palette:
    return Palette(hex_rgb(paper), hex_rgb(ink), tuple(hex_rgb(c) for c in colours))


PALETTES: dict[str, tuple[Palette, ...]] = {
    "ink": (
        _palette("#f4f1e8", "#111111", "#111111", "#5a5a5a", "#b8b8b8"),
        _palette("#ffffff", "#000000", "#000000", "#404040", "#9a9a9a"),
        _palette("#efe6d2", "#1b1b1b", "#1b1b1b", "#8a1c1c", "#6b6b6b"),
    ),
    "neon": (
        _palette("#0b0620", "#f5f3ff", "#ff2e88", "#19f0ff", "#ffe600", "#8a2be2"),
        _palette("#060b16", "#e8fbff", "#00ffa3", "#ff5cf4", "#00b3ff", "#fffb00"),
        _palette("#140014", "#ffffff", "#ff3b3b", "#ff9d00", "#2bfffb", "#c800ff"),
    ),
    "retro": (
        _palette("#f1e4c8", "#2b2118", "#d9472b", "#227c7a", "#e8a33d", "#274060"),
        _palette("#ece0c4", "#1e2430", "#c1392b", "#e3b23c", "#3e6b48", "#1f4e79"),
        _palette("#f6ead0", "#3a2a1f", "#b5562b", "#6a8d73", "#e6c36a", "#44355b"),
    ),
    "pop": (
        _palette("#ffffff", "#000000", "#ff1f1f", "#ffd500", "#0057ff", "#00b050"),
        _palette("#fff7e0", "#101010", "#ff3d7f", "#00c2ff", "#ffe100", "#ff7a00"),
    ),
    "geometric": (
        _palette("#f2efe6", "#141414", "#d62828", "#1d3fbb", "#f2c14e", "#141414"),
        _palette("#ffffff", "#0d0d0d", "#e63946", "#1d3557", "#f1c40f", "#457b9d"),
    ),
    "ornate": (
        _palette("#1a1410", "#f0d78c", "#c9a227", "#7a1f2b", "#1f5c4a", "#2c3e75"),
        _palette("#f3e9d2", "#2a1a10", "#8c2f39", "#b8860b", "#2f5d50", "#3b3b8f"),
        _palette("#0f1c2e", "#f4e3b2", "#d4a017", "#b22222", "#2e8b57", "#6a5acd"),
    ),
    "pastel": (
        _palette("#fff8f0", "#3d3357", "#ffb5c2", "#a0d8ef", "#ffe29a", "#b8e0b0", "#c9b6e4"),
        _palette("#f7fbff", "#2f3e46", "#f4a6a6", "#8fc1e3", "#f9d88a", "#a8d5ba"),
    ),
    "blueprint": (
        _palette("#103e8a", "#f2f6ff", "#f2f6ff", "#9cc3ff", "#ffffff"),
        _palette("#0b2f5e", "#e6f0ff", "#e6f0ff", "#7fb2ff", "#ffd166"),
    ),
    "earth": (
        _palette("#efe2c6", "#2e2a24", "#a4472d", "#5b7045", "#d39a36", "#36545e"),
        _palette("#e9dcc0", "#241e19", "#8a3b12", "#c98b2b", "#41644a", "#1e3d59"),
    ),
}


@dataclass(frozen=True)
class CoverColours:
    """Colours of a manga or light-novel cover illustration: the figure's and the sky's."""

    skin: tuple[RGB, ...]
    hair: tuple[RGB, ...]
    cloth: tuple[RGB, ...]
    sky: tuple[RGB, ...]
    title: tuple[RGB, ...]


COVER_COLOURS = CoverColours(
    skin=tuple(hex_rgb(c) for c in ("#ffe4d2", "#fbd3bc", "#f2c3a4", "#e8b08e", "#c98e6b")),
    hair=tuple(
        hex_rgb(c)
        for c in ("#1d1a26", "#5a3a22", "#9b5a2b", "#e8c66a", "#d94f6e", "#3f6fd1", "#7d5bbd")
    ),
    cloth=tuple(
        hex_rgb(c)
        for c in ("#1f3f8f", "#c8283c", "#f4f4f4", "#2b2b2b", "#3d8f5a", "#f0b429", "#8a4fbf")
    ),
    sky=tuple(
        hex_rgb(c)
        for c in ("#8fd3ff", "#ffd6e8", "#ffe9a8", "#b9f3d0", "#1b2a6b", "#f6a04d", "#ffffff")
    ),
    title=tuple(
        hex_rgb(c)
        for c in ("#e60012", "#ffe100", "#ffffff", "#0068b7", "#111111", "#ff4fa0", "#00a0e9")
    ),
)
