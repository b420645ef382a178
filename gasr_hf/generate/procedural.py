"""The offline procedural backend: artwork-like images drawn with PIL and NumPy, no weights.

Each prompt row picks a layout from its first component (poster, comic page, cover, signage, label,
infographic, map or blueprint, text page, textile pattern, ticket), an inset from its second, and a
palette and treatment from its style. Everything random comes from the row's seed, so the same row
gives the same pixels. Drawing happens at twice the target size and is box-reduced, which
anti-aliases the hard edges the way rasterised vector artwork is.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gasr_hf.generate.backend import Backend, library_versions

RENDERER_VERSION = "1"
SUPERSAMPLE = 2

Box = tuple[int, int, int, int]
RGB = tuple[int, int, int]

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


def _hex(colour: str) -> RGB:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@dataclass(frozen=True)
class Palette:
    paper: RGB
    ink: RGB
    colours: tuple[RGB, ...]


def _palette(paper: str, ink: str, *colours: str) -> Palette:
    return Palette(_hex(paper), _hex(ink), tuple(_hex(c) for c in colours))


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

KeywordTable = tuple[tuple[str, tuple[str, ...]], ...]


def _keyword_table(*entries: tuple[str, str]) -> KeywordTable:
    """``(name, "key|key|...")`` pairs as ``(name, keys)``; the first name whose key occurs wins."""
    return tuple((name, tuple(keys.split("|"))) for name, keys in entries)


STYLE_FAMILIES: KeywordTable = _keyword_table(
    ("neon", "neon|cyberpunk|synthwave|vaporwave|glitch|y2k|psychedelic"),
    ("blueprint", "blueprint|architectural|exploded-view|technical"),
    (
        "ink",
        "ink|sumi|noir|manga|gekiga|pen-and|charcoal|engraving|etching|woodcut|linocut|"
        "stencil|blackletter|stipple|crosshatch|ligne claire",
    ),
    ("pop", "pop art|ben-day|halftone|memphis|superhero|comix|sticker|8-bit"),
    (
        "geometric",
        "bauhaus|stijl|swiss|constructivist|avant-garde|op art|minimalist|grid|"
        "brutalist|futurist|cubist|flat design|material|isometric|low-poly",
    ),
    (
        "ornate",
        "nouveau|deco|rococo|baroque|victorian|celtic|islamic|illuminated|persian|"
        "mughal|byzantine|stained glass|gongbi|calligraphic|kaleidoscopic",
    ),
    ("pastel", "shojo|chibi|children|storybook|watercolor|solarpunk|paper cut|pastel"),
    (
        "retro",
        "vintage|retro|wpa|mid-century|atomic|letterpress|risograph|screen print|soviet|"
        "propaganda|googie|streamline|dieselpunk|steampunk|punk|zine",
    ),
    ("earth", "ukiyo|shin-hanga|aztec|aboriginal|muralist|botanical|cartograph"),
)

LAYOUT_KEYWORDS: KeywordTable = _keyword_table(
    (
        "comic",
        "comic|manga|panel grid|yonkoma|speech|onomatopoeia|speed lines|storyboard|"
        "splash page|screentone|model sheet|strip",
    ),
    ("ticket", "ticket|card|pass|postcard|invitation|slip|passport|banknote|stamp"),
    (
        "chart",
        "chart|infographic|dashboard|graph|timeline|flowchart|mind map|spreadsheet|"
        "interface|screen|hud|app|website|terminal|gauges|console|periodic|"
        "multiplication|scoreboard|departure",
    ),
    (
        "map",
        "map|plan|blueprint|schematic|diagram|drawing|circuit|atlas|elevation|maze|"
        "labyrinth|orrery",
    ),
    (
        "pattern",
        "textile|pattern|wallpaper|mosaic|tile|tiling|tessellation|quilt|tartan|batik|"
        "paisley|lace|mandala|kaleidoscope|stained glass|rose window|basket|brick|"
        "cobblestone|chain-mail|cross-stitch|knitting",
    ),
    (
        "textpage",
        "newspaper|page|menu|manuscript|letter|dictionary|catalogue|column|crossword|"
        "timetable|journal|calendar|specimen|score|tablature|textbook|primer|almanac|"
        "ransom|scroll|headline|chalkboard",
    ),
    (
        "label",
        "label|can|tin|wrapper|box|tag|badge|patch|certificate|coat of arms|insignia|"
        "medal|palette|jersey|livery|flag",
    ),
    ("cover", "cover|sleeve|j-card|booklet|magazine|spread|lookbook|deck"),
    (
        "signage",
        "sign|awning|facade|marquee|neon|pole|storefront|street|alley|exit|station|"
        "billboard|stall|arcade|pachinko|vending|jukebox|backglass|motel|gas station|"
        "shelf|aisle|window",
    ),
    ("poster", "poster|flyer|placard|playbill|advertisement"),
)

SCENE_KEYWORDS: KeywordTable = _keyword_table(
    ("skyline", "city|street|skyline|skyscraper|tokyo|hong kong|times square"),
    ("sea", "sea|ship|reef|koi|lighthouse|pirate|viking|diver|nautical"),
    ("space", "space|galaxy|astronaut|star|lunar|solar|planet|zodiac"),
    ("mountains", "mountain|desert|landscape|waterfall|village|caravan|castle"),
)

WORDS = (
    "GRAND OPENING TONIGHT LIVE SPECIAL EDITION NEW FREE SALE EXPRESS ROYAL DELUXE CLUB SUPER "
    "ORIGINAL PREMIUM CITY NIGHT GOLDEN FESTIVAL SHOW VOL NO ISSUE EXTRA LIMITED ONLY CLASSIC"
).split()


def _words(row: Mapping[str, Any]) -> list[str]:
    text = " ".join([str(row.get("style", "")), *map(str, row.get("components") or [])])
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'\-]+", text) if w.lower() not in _STOP] or [
        "ART"
    ]


_STOP = {"a", "an", "the", "and", "of", "with", "in", "on", "for"}


def _pick_by_keywords(
    text: str,
    table: tuple[tuple[str, tuple[str, ...]], ...],
    rng: random.Random,
    options: Sequence[str],
) -> str:
    lowered = text.lower()
    for name, keys in table:
        if any(k in lowered for k in keys):
            return name
    return rng.choice(list(options))


class Canvas:
    """A PIL image with the row's random stream, palette and drawing helpers in canvas pixels."""

    def __init__(
        self, width: int, height: int, palette: Palette, rng: random.Random, words: list[str]
    ):
        self.image = Image.new("RGB", (width, height), palette.paper)
        self.draw = ImageDraw.Draw(self.image)
        self.palette = palette
        self.rng = rng
        self.np_rng = np.random.default_rng(rng.getrandbits(64))
        self.words = words
        self.u = min(width, height) / 256
        self.width, self.height = width, height

    @contextmanager
    def clip(self, box: Box) -> Iterator[None]:
        """Keep only what is drawn inside ``box`` during the block (PIL's draw has no clip path)."""
        before = self.image.copy()
        yield
        before.paste(self.image.crop(box), box[:2])
        self.image = before
        self.draw = ImageDraw.Draw(before)

    # ---- colours and text content
    def colour(self, avoid: RGB | None = None) -> RGB:
        choices = [c for c in self.palette.colours if c != avoid] or list(self.palette.colours)
        return self.rng.choice(choices)

    def contrast(self, background: RGB) -> RGB:
        """Paper or ink, whichever stands out more against ``background``."""
        luminance = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
        paper, ink = self.palette.paper, self.palette.ink
        lp = 0.299 * paper[0] + 0.587 * paper[1] + 0.114 * paper[2]
        li = 0.299 * ink[0] + 0.587 * ink[1] + 0.114 * ink[2]
        return paper if abs(lp - luminance) > abs(li - luminance) else ink

    def phrase(self, n_words: int) -> str:
        pool = self.words + WORDS
        return " ".join(self.rng.choice(pool) for _ in range(n_words))

    def sentence(self, n_words: int) -> str:
        pool = [w.lower() for w in self.words] + [w.lower() for w in WORDS]
        return " ".join(self.rng.choice(pool) for _ in range(n_words)).capitalize() + "."

    def number(self) -> str:
        kind = self.rng.randrange(5)
        if kind == 0:
            return f"${self.rng.randrange(1, 99)}.{self.rng.randrange(100):02d}"
        if kind == 1:
            return f"{self.rng.randrange(1, 31):02d}.{self.rng.randrange(1, 13):02d}.{self.rng.randrange(1950, 2030)}"
        if kind == 2:
            return f"No. {self.rng.randrange(1, 999)}"
        if kind == 3:
            return f"{self.rng.randrange(10, 99)}%"
        return f"{self.rng.randrange(1, 24):02d}:{self.rng.choice(['00', '15', '30', '45'])}"

    # ---- text
    def fit_font(
        self, name: str, text: str, box: Box, max_size: float | None = None
    ) -> ImageFont.FreeTypeFont:
        """The largest ``name`` font at which ``text`` fits in ``box`` on one line."""
        w, h = box[2] - box[0], box[3] - box[1]
        hi = int(max_size or h)
        lo = 4
        probe = font(name, 100)
        left, top, right, bottom = probe.getbbox(text)
        scale = min(w / max(right - left, 1), h / max(bottom - top, 1))
        size = max(lo, min(hi, int(100 * scale)))
        return font(name, size)

    def text_in(
        self,
        box: Box,
        text: str,
        fill: RGB,
        name: str = "sans-bold",
        align: str = "center",
        max_size: float | None = None,
        stroke: tuple[int, RGB] | None = None,
    ) -> None:
        f = self.fit_font(name, text, box, max_size)
        left, top, right, bottom = f.getbbox(text)
        tw, th = right - left, bottom - top
        if align == "center":
            x = box[0] + (box[2] - box[0] - tw) / 2 - left
        elif align == "right":
            x = box[2] - tw - left
        else:
            x = box[0] - left
        y = box[1] + (box[3] - box[1] - th) / 2 - top
        kwargs = {"stroke_width": stroke[0], "stroke_fill": stroke[1]} if stroke else {}
        self.draw.text((x, y), text, font=f, fill=fill, **kwargs)

    def paragraph(
        self, box: Box, fill: RGB, size: float, name: str = "serif", justify: bool = False
    ) -> None:
        """Fill ``box`` with wrapped lines of row-derived words at ``size`` pixels."""
        f = font(name, size)
        line_h = max(2, int(f.size * 1.25))
        y = box[1]
        width = box[2] - box[0]
        while y + line_h <= box[3]:
            line = self.sentence(self.rng.randrange(6, 14))
            while f.getlength(line) > width and " " in line:
                line = line.rsplit(" ", 1)[0]
            if self.rng.random() < 0.12:
                line = line[: max(3, len(line) // 2)]
            self.draw.text((box[0], y), line, font=f, fill=fill)
            y += line_h

    def rotated_text(
        self,
        centre: tuple[float, float],
        text: str,
        size: float,
        fill: RGB,
        angle: float,
        name: str = "sans-bold",
        outline: RGB | None = None,
    ) -> None:
        f = font(name, size)
        left, top, right, bottom = f.getbbox(text, stroke_width=int(size / 12))
        tile = Image.new("L", (right - left + 8, bottom - top + 8), 0)
        ImageDraw.Draw(tile).text(
            (4 - left, 4 - top),
            text,
            font=f,
            fill=255,
            stroke_width=int(size / 12) if outline else 0,
            stroke_fill=128,
        )
        tile = tile.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
        x = int(centre[0] - tile.width / 2)
        y = int(centre[1] - tile.height / 2)
        if outline:
            edge = tile.point(lambda v: 255 if v > 0 else 0)
            self.image.paste(outline, (x, y), edge)
        body = tile.point(lambda v: 255 if v > 200 else (0 if v < 100 else v))
        self.image.paste(fill, (x, y), body)

    # ---- fills and patterns
    def _grid(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        ys, xs = np.mgrid[box[1] : box[3], box[0] : box[2]].astype(np.float32)
        return xs, ys

    def mask_fill(self, box: Box, mask: np.ndarray, colour: RGB) -> None:
        self.image.paste(colour, box[:2], Image.fromarray(mask.astype(np.uint8) * 255, "L"))

    def gradient(self, box: Box, c1: RGB, c2: RGB, kind: str = "linear", levels: int = 0) -> None:
        xs, ys = self._grid(box)
        w, h = max(box[2] - box[0], 1), max(box[3] - box[1], 1)
        if kind == "radial":
            cx, cy = (
                box[0] + w * self.rng.uniform(0.3, 0.7),
                box[1] + h * self.rng.uniform(0.3, 0.7),
            )
            t = np.hypot(xs - cx, ys - cy) / (0.75 * math.hypot(w, h))
        else:
            angle = self.rng.uniform(0, math.pi)
            t = ((xs - box[0]) * math.cos(angle) + (ys - box[1]) * math.sin(angle)) / (
                abs(w * math.cos(angle)) + abs(h * math.sin(angle))
            )
            t = t - t.min()
        t = np.clip(t, 0, 1)
        if levels:
            t = np.floor(t * levels) / max(levels - 1, 1)
            t = np.clip(t, 0, 1)
        a, b = np.array(c1, np.float32), np.array(c2, np.float32)
        rgb = a + (b - a) * t[..., None]
        self.image.paste(Image.fromarray(rgb.astype(np.uint8), "RGB"), box[:2])

    def halftone(
        self,
        box: Box,
        colour: RGB,
        cell: float,
        field: str = "flat",
        level: float = 0.5,
        angle: float = 45.0,
    ) -> None:
        """Dots on a rotated grid; radius from a flat, linear or radial tone field (screentone)."""
        xs, ys = self._grid(box)
        a = math.radians(angle)
        u = xs * math.cos(a) + ys * math.sin(a)
        v = -xs * math.sin(a) + ys * math.cos(a)
        du = (u / cell) % 1.0 - 0.5
        dv = (v / cell) % 1.0 - 0.5
        dist = np.hypot(du, dv)
        w, h = max(box[2] - box[0], 1), max(box[3] - box[1], 1)
        if field == "linear":
            tone = np.clip((ys - box[1]) / h, 0, 1) * 0.9 + 0.05
        elif field == "radial":
            tone = np.clip(
                1 - np.hypot(xs - box[0] - w / 2, ys - box[1] - h / 2) / (0.6 * max(w, h)), 0, 1
            )
        else:
            tone = np.full(xs.shape, level, np.float32)
        self.mask_fill(box, dist < np.sqrt(tone) * 0.56, colour)

    def hatch(self, box: Box, colour: RGB, period: float, width: float, angle: float) -> None:
        xs, ys = self._grid(box)
        a = math.radians(angle)
        t = xs * math.cos(a) + ys * math.sin(a)
        self.mask_fill(box, (t % period) < width, colour)

    def checker(self, box: Box, colour: RGB, cell: float) -> None:
        xs, ys = self._grid(box)
        self.mask_fill(box, ((xs // cell + ys // cell) % 2) == 0, colour)

    def background(self, box: Box) -> RGB:
        """A flat, gradient, halftone or hatched ground for ``box``; returns its main colour."""
        kind = self.rng.randrange(5)
        base = self.colour()
        if kind == 0:
            self.draw.rectangle(box, fill=base)
        elif kind == 1:
            self.gradient(
                box,
                base,
                self.colour(avoid=base),
                self.rng.choice(["linear", "radial"]),
                levels=self.rng.choice([0, 0, 5, 8]),
            )
        elif kind == 2:
            self.draw.rectangle(box, fill=self.palette.paper)
            self.halftone(
                box,
                base,
                cell=self.rng.uniform(4, 9) * self.u,
                field=self.rng.choice(["linear", "radial", "flat"]),
            )
            return self.palette.paper
        elif kind == 3:
            self.draw.rectangle(box, fill=base)
            self.hatch(
                box,
                self.colour(avoid=base),
                period=self.rng.uniform(3, 8) * self.u,
                width=self.rng.uniform(1, 2.5) * self.u,
                angle=self.rng.choice([0, 45, 90, 135, 30]),
            )
        else:
            self.draw.rectangle(box, fill=self.palette.paper)
            return self.palette.paper
        return base

    # ---- line art
    def frame(self, box: Box, colour: RGB, kind: int | None = None) -> None:
        kind = self.rng.randrange(4) if kind is None else kind
        w = max(1, int(self.rng.uniform(0.8, 2.5) * self.u))
        self.draw.rectangle(box, outline=colour, width=w)
        if kind >= 1:
            g = int(3 * self.u)
            inner = (box[0] + g, box[1] + g, box[2] - g, box[3] - g)
            self.draw.rectangle(inner, outline=colour, width=max(1, w // 2))
        if kind >= 2:
            s = int(5 * self.u)
            for x, y in (
                (box[0], box[1]),
                (box[2] - s, box[1]),
                (box[0], box[3] - s),
                (box[2] - s, box[3] - s),
            ):
                self.draw.rectangle((x, y, x + s, y + s), fill=colour)
        if kind == 3:
            step = max(2, int(6 * self.u))
            for x in range(box[0] + step * 2, box[2] - step * 2, step):
                self.draw.ellipse(
                    (x - self.u, box[1] + 1.2 * self.u, x + self.u, box[1] + 3.2 * self.u),
                    fill=colour,
                )
                self.draw.ellipse(
                    (x - self.u, box[3] - 3.2 * self.u, x + self.u, box[3] - 1.2 * self.u),
                    fill=colour,
                )

    def scene(self, box: Box, kind: str) -> None:
        """Flat-colour line-art scenery filling ``box``: skyline, sea, space, mountains or abstract."""
        with self.clip(box):
            self._scene(box, kind)

    def _scene(self, box: Box, kind: str) -> None:
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        ink = self.palette.ink
        lw = max(1, int(1.2 * self.u))
        if kind in ("skyline", "mountains", "sea"):
            sun = self.colour()
            r = self.rng.uniform(0.12, 0.25) * w
            cx, cy = x0 + self.rng.uniform(0.25, 0.75) * w, y0 + self.rng.uniform(0.25, 0.45) * h
            for i in range(self.rng.randrange(0, 3)):
                rr = r * (1.35 + 0.3 * i)
                self.draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=sun, width=lw * 2)
            self.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=sun, outline=ink, width=lw)
            for k in range(self.rng.randrange(3, 7)):
                yy = cy - r * 0.2 + k * r * 0.28
                if yy < cy + r:
                    self.draw.rectangle(
                        (cx - r, yy, cx + r, yy + r * 0.08), fill=self.palette.paper
                    )
        if kind == "skyline":
            x = x0
            base = y1
            while x < x1:
                bw = self.rng.uniform(0.06, 0.16) * w
                bh = self.rng.uniform(0.2, 0.65) * h
                colour = self.colour()
                self.draw.rectangle(
                    (x, base - bh, x + bw, base), fill=colour, outline=ink, width=lw
                )
                win = self.contrast(colour)
                step = max(3 * self.u, bw / 6)
                for wy in np.arange(base - bh + step, base - step, step * 1.3):
                    for wx in np.arange(x + step * 0.6, x + bw - step * 0.8, step):
                        if self.rng.random() < 0.7:
                            self.draw.rectangle(
                                (wx, wy, wx + step * 0.5, wy + step * 0.6), fill=win
                            )
                if self.rng.random() < 0.3:
                    self.draw.line(
                        (x + bw / 2, base - bh, x + bw / 2, base - bh - 0.08 * h),
                        fill=ink,
                        width=lw,
                    )
                x += bw + self.rng.uniform(0, 0.02) * w
        elif kind == "mountains":
            for layer in range(3):
                top = y0 + h * (0.35 + 0.15 * layer)
                pts = [(x0, y1)]
                x = x0
                while x < x1:
                    pts.append((x, top + self.rng.uniform(-0.15, 0.12) * h))
                    x += self.rng.uniform(0.08, 0.2) * w
                pts += [(x1, top), (x1, y1)]
                self.draw.polygon(pts, fill=self.colour(), outline=ink, width=lw)
        elif kind == "sea":
            horizon = y0 + h * 0.55
            for i in range(9):
                yy = horizon + i * h * 0.05
                colour = self.palette.colours[i % len(self.palette.colours)]
                pts = [
                    (x, yy + math.sin(x / (w * 0.05) + i) * h * 0.015)
                    for x in np.linspace(x0, x1, 60)
                ]
                self.draw.polygon(pts + [(x1, y1), (x0, y1)], fill=colour)
                self.draw.line(pts, fill=ink, width=lw)
            hx = x0 + self.rng.uniform(0.2, 0.6) * w
            self.draw.polygon(
                [
                    (hx, horizon - h * 0.02),
                    (hx + w * 0.3, horizon - h * 0.02),
                    (hx + w * 0.25, horizon + h * 0.06),
                    (hx + w * 0.05, horizon + h * 0.06),
                ],
                fill=self.colour(),
                outline=ink,
                width=lw,
            )
            self.draw.polygon(
                [
                    (hx + w * 0.14, horizon - h * 0.3),
                    (hx + w * 0.14, horizon - h * 0.04),
                    (hx + w * 0.28, horizon - h * 0.04),
                ],
                fill=self.palette.paper,
                outline=ink,
                width=lw,
            )
        elif kind == "space":
            self.draw.rectangle(
                box, fill=self.palette.ink if sum(self.palette.paper) > 380 else self.palette.paper
            )
            star = (
                self.contrast(self.palette.ink)
                if sum(self.palette.paper) > 380
                else self.palette.ink
            )
            for _ in range(int(60 + w * h / (self.u * self.u * 120))):
                sx, sy = x0 + self.rng.random() * w, y0 + self.rng.random() * h
                s = self.rng.choice([0.4, 0.6, 1.0, 1.6]) * self.u
                self.draw.ellipse((sx - s, sy - s, sx + s, sy + s), fill=star)
            r = self.rng.uniform(0.15, 0.3) * min(w, h)
            cx, cy = x0 + self.rng.uniform(0.3, 0.7) * w, y0 + self.rng.uniform(0.3, 0.7) * h
            planet = (int(cx - r), int(cy - r), int(cx + r), int(cy + r))
            self.draw.ellipse(planet, fill=self.colour())
            self.draw.ellipse(
                (cx - r * 1.8, cy - r * 0.35, cx + r * 1.8, cy + r * 0.35),
                outline=self.colour(),
                width=lw * 3,
            )
        else:
            self._abstract(box)

    def abstract(self, box: Box) -> None:
        with self.clip(box):
            self._abstract(box)

    def _abstract(self, box: Box) -> None:
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        ink = self.palette.ink
        lw = max(1, int(1.2 * self.u))
        for _ in range(self.rng.randrange(5, 11)):
            kind = self.rng.randrange(5)
            cx, cy = x0 + self.rng.random() * w, y0 + self.rng.random() * h
            s = self.rng.uniform(0.08, 0.3) * min(w, h)
            colour = self.colour()
            if kind == 0:
                self.draw.ellipse(
                    (cx - s, cy - s, cx + s, cy + s), fill=colour, outline=ink, width=lw
                )
            elif kind == 1:
                self.draw.rectangle(
                    (cx - s, cy - s * 0.6, cx + s, cy + s * 0.6), fill=colour, outline=ink, width=lw
                )
            elif kind == 2:
                self.draw.polygon(
                    [(cx, cy - s), (cx + s, cy + s), (cx - s, cy + s)],
                    fill=colour,
                    outline=ink,
                    width=lw,
                )
            elif kind == 3:
                for i in range(5):
                    rr = s * (1 - i * 0.18)
                    self.draw.ellipse(
                        (cx - rr, cy - rr, cx + rr, cy + rr),
                        outline=colour if i % 2 else ink,
                        width=lw * 2,
                    )
            else:
                self.draw.line(
                    [(cx - s, cy), (cx + s, cy + s * self.rng.uniform(-1, 1))],
                    fill=colour,
                    width=lw * 4,
                )

    def burst(self, box: Box, colour: RGB, rays: int = 48) -> None:
        """Speed lines / sun rays converging on a focus inside ``box``."""
        with self.clip(box):
            self._burst(box, colour, rays)

    def _burst(self, box: Box, colour: RGB, rays: int) -> None:
        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2 + self.rng.uniform(-0.2, 0.2) * (x1 - x0), (y0 + y1) / 2
        reach = math.hypot(x1 - x0, y1 - y0)
        for i in range(rays):
            a = 2 * math.pi * i / rays + self.rng.uniform(-0.03, 0.03)
            da = self.rng.uniform(0.005, 0.03)
            inner = self.rng.uniform(0.12, 0.3) * reach
            pts = [
                (cx + inner * math.cos(a), cy + inner * math.sin(a)),
                (cx + reach * math.cos(a - da), cy + reach * math.sin(a - da)),
                (cx + reach * math.cos(a + da), cy + reach * math.sin(a + da)),
            ]
            self.draw.polygon(pts, fill=colour)

    def bubble(self, box: Box, text: str) -> None:
        x0, y0, x1, y1 = box
        ink = self.palette.ink
        lw = max(1, int(1.2 * self.u))
        tail = (x0 + (x1 - x0) * self.rng.uniform(0.2, 0.8), y1 + (y1 - y0) * 0.5)
        mid = (x0 + x1) / 2
        self.draw.polygon(
            [(mid - (x1 - x0) * 0.1, y1 - 2 * lw), (mid + (x1 - x0) * 0.1, y1 - 2 * lw), tail],
            fill=(255, 255, 255),
            outline=ink,
            width=lw,
        )
        self.draw.ellipse(box, fill=(255, 255, 255), outline=ink, width=lw)
        lines = [self.phrase(self.rng.randrange(1, 3)) for _ in range(self.rng.randrange(1, 4))]
        pad_x, pad_y = (x1 - x0) * 0.18, (y1 - y0) * 0.22
        line_h = (y1 - y0 - 2 * pad_y) / len(lines)
        for i, line in enumerate(lines):
            y = y0 + pad_y + i * line_h
            self.text_in(
                (int(x0 + pad_x), int(y), int(x1 - pad_x), int(y + line_h * 0.9)),
                line,
                ink,
                "sans-bold",
                max_size=line_h,
            )

    def barcode(self, box: Box, colour: RGB) -> None:
        x = box[0]
        while x < box[2]:
            bar = self.rng.choice([1, 1, 2, 3]) * max(1, self.u * 0.7)
            if self.rng.random() < 0.55:
                self.draw.rectangle((x, box[1], min(x + bar, box[2]), box[3]), fill=colour)
            x += bar

    def code_grid(self, box: Box, colour: RGB) -> None:
        """A QR-like grid of modules with three finder squares."""
        n = 25
        cell = (box[2] - box[0]) / n
        bits = self.np_rng.random((n, n)) < 0.5
        for fy, fx in ((0, 0), (0, n - 7), (n - 7, 0)):
            bits[fy : fy + 7, fx : fx + 7] = False
            bits[fy, fx : fx + 7] = bits[fy + 6, fx : fx + 7] = True
            bits[fy : fy + 7, fx] = bits[fy : fy + 7, fx + 6] = True
            bits[fy + 2 : fy + 5, fx + 2 : fx + 5] = True
        for j, i in np.argwhere(bits):
            self.draw.rectangle(
                (
                    box[0] + i * cell,
                    box[1] + j * cell,
                    box[0] + (i + 1) * cell,
                    box[1] + (j + 1) * cell,
                ),
                fill=colour,
            )


# ---- layouts: each fills the box with one kind of artwork


def _inset(box: Box, frac: float) -> Box:
    dx, dy = int((box[2] - box[0]) * frac), int((box[3] - box[1]) * frac)
    return (box[0] + dx, box[1] + dy, box[2] - dx, box[3] - dy)


def layout_poster(cv: Canvas, box: Box, scene: str) -> None:
    cv.background(box)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    art = (x0 + int(0.06 * w), y0 + int(0.24 * h), x1 - int(0.06 * w), y0 + int(0.78 * h))
    cv.draw.rectangle(art, fill=cv.palette.paper)
    if cv.rng.random() < 0.3:
        cv.burst(art, cv.colour(), rays=cv.rng.choice([24, 36, 60]))
    cv.scene(art, scene)
    cv.draw.rectangle(art, outline=cv.palette.ink, width=max(1, int(1.5 * cv.u)))
    band = cv.colour()
    head = (x0, y0, x1, y0 + int(0.22 * h))
    cv.draw.rectangle(head, fill=band)
    title = cv.phrase(cv.rng.randrange(1, 3)).upper()
    cv.text_in(
        _inset(head, 0.08),
        title,
        cv.contrast(band),
        cv.rng.choice(DISPLAY_FONTS),
        stroke=(int(cv.u), cv.palette.ink) if cv.rng.random() < 0.4 else None,
    )
    sub = (x0 + int(0.06 * w), y0 + int(0.8 * h), x1 - int(0.06 * w), y0 + int(0.88 * h))
    cv.text_in(sub, cv.phrase(3), cv.palette.ink, cv.rng.choice(TEXT_FONTS))
    foot = (x0 + int(0.06 * w), y0 + int(0.9 * h), x1 - int(0.06 * w), y0 + int(0.96 * h))
    cols = cv.rng.randrange(2, 4)
    for i in range(cols):
        cell = (
            foot[0] + i * (foot[2] - foot[0]) // cols,
            foot[1],
            foot[0] + (i + 1) * (foot[2] - foot[0]) // cols - int(2 * cv.u),
            foot[3],
        )
        cv.text_in(
            cell, cv.number() + " " + cv.phrase(1), cv.palette.ink, "mono-bold" if i % 2 else "sans"
        )
    if cv.rng.random() < 0.5:
        cv.frame(_inset(box, 0.015), cv.palette.ink)


def layout_comic(cv: Canvas, box: Box, scene: str) -> None:
    cv.draw.rectangle(box, fill=(255, 255, 255) if cv.rng.random() < 0.6 else cv.palette.paper)
    x0, y0, x1, y1 = box
    gutter = int(3 * cv.u)
    rows = cv.rng.randrange(2, 5)
    cuts = sorted(cv.rng.uniform(0.15, 0.85) for _ in range(rows - 1))
    edges = [0.0, *cuts, 1.0]
    ink = cv.palette.ink
    lw = max(1, int(1.6 * cv.u))
    for r in range(rows):
        ry0 = int(y0 + (y1 - y0) * edges[r]) + gutter
        ry1 = int(y0 + (y1 - y0) * edges[r + 1]) - gutter
        n = cv.rng.randrange(1, 4)
        xs = sorted(cv.rng.uniform(0.2, 0.8) for _ in range(n - 1))
        xedges = [0.0, *xs, 1.0]
        for c in range(n):
            slant = int(cv.rng.uniform(-6, 6) * cv.u) if n > 1 else 0
            px0 = int(x0 + (x1 - x0) * xedges[c]) + gutter
            px1 = int(x0 + (x1 - x0) * xedges[c + 1]) - gutter
            panel = (px0, ry0, px1, ry1)
            if px1 - px0 < 12 * cv.u or ry1 - ry0 < 12 * cv.u:
                continue
            kind = cv.rng.randrange(5)
            if kind == 0:
                cv.draw.rectangle(panel, fill=(255, 255, 255))
                cv.burst(panel, ink, rays=cv.rng.choice([40, 72, 110]))
            elif kind == 1:
                cv.draw.rectangle(panel, fill=(255, 255, 255))
                cv.halftone(
                    panel,
                    cv.colour() if cv.palette.colours[0] != ink else (90, 90, 90),
                    cell=cv.rng.uniform(2.5, 5) * cv.u,
                    field=cv.rng.choice(["flat", "linear", "radial"]),
                    level=cv.rng.uniform(0.2, 0.6),
                )
                cv.scene(_inset(panel, 0.1), cv.rng.choice(["abstract", scene]))
            elif kind == 2:
                cv.scene(panel, scene)
            elif kind == 3:
                cv.draw.rectangle(panel, fill=cv.colour())
                cv.abstract(panel)
            else:
                cv.draw.rectangle(panel, fill=(255, 255, 255))
                cv.hatch(
                    panel,
                    ink,
                    period=cv.rng.uniform(2.5, 5) * cv.u,
                    width=0.8 * cv.u,
                    angle=cv.rng.choice([30, 45, 60, 135]),
                )
                cv.scene(_inset(panel, 0.15), "abstract")
            if slant:
                cv.draw.polygon(
                    [(px1, ry0), (px1 + slant, ry0), (px1, ry1)]
                    if slant > 0
                    else [(px1, ry0), (px1, ry1), (px1 + slant, ry1)],
                    fill=(255, 255, 255),
                )
            cv.draw.rectangle(panel, outline=ink, width=lw)
            pw, ph = px1 - px0, ry1 - ry0
            if cv.rng.random() < 0.75 and pw > 40 * cv.u and ph > 30 * cv.u:
                bw, bh = pw * cv.rng.uniform(0.35, 0.6), ph * cv.rng.uniform(0.22, 0.38)
                bx, by = px0 + cv.rng.uniform(0.04, 0.96 - bw / pw) * pw, ry0 + ph * 0.06
                cv.bubble((int(bx), int(by), int(bx + bw), int(by + bh)), "")
            if cv.rng.random() < 0.35:
                sfx = cv.rng.choice(
                    ["BOOM!", "KRAK", "WHAM!", "ZOOM", "POW!", "BAM", "SHHH", "DON!", "GOGOGO"]
                )
                cv.rotated_text(
                    (px0 + pw * cv.rng.uniform(0.3, 0.7), ry0 + ph * cv.rng.uniform(0.5, 0.8)),
                    sfx,
                    min(pw, ph) * 0.28,
                    cv.colour(),
                    cv.rng.uniform(-25, 25),
                    cv.rng.choice(["sans-oblique", "stix-bold"]),
                    outline=ink,
                )


def layout_cover(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    ground = cv.background(box)
    art = (x0 + int(0.08 * w), y0 + int(0.26 * h), x1 - int(0.08 * w), y0 + int(0.82 * h))
    cv.scene(art, scene)
    cv.frame(art, cv.palette.ink, kind=cv.rng.randrange(3))
    mast = (x0 + int(0.05 * w), y0 + int(0.03 * h), x1 - int(0.05 * w), y0 + int(0.2 * h))
    name = cv.rng.choice(cv.words).upper()
    cv.text_in(mast, name, cv.contrast(ground), cv.rng.choice(DISPLAY_FONTS))
    cv.draw.line(
        (mast[0], mast[3] + 2 * cv.u, mast[2], mast[3] + 2 * cv.u),
        fill=cv.contrast(ground),
        width=max(1, int(cv.u)),
    )
    cv.text_in(
        (mast[0], mast[3] + 3 * cv.u, mast[2], mast[3] + 10 * cv.u),
        f"{cv.phrase(2)}  {cv.number()}",
        cv.contrast(ground),
        "mono",
        max_size=6 * cv.u,
    )
    band = (x0, y0 + int(0.85 * h), x1, y1)
    colour = cv.colour()
    cv.draw.rectangle(band, fill=colour)
    cv.text_in(
        _inset(band, 0.12),
        cv.phrase(2).title(),
        cv.contrast(colour),
        cv.rng.choice(["serif-italic", "stix-italic", "sans"]),
    )
    if cv.rng.random() < 0.6:
        r = 0.09 * w
        cx, cy = x1 - 0.16 * w, y0 + 0.3 * h
        badge = cv.colour(avoid=colour)
        pts = [
            (
                cx + (r if i % 2 == 0 else r * 0.78) * math.cos(math.pi * i / 12),
                cy + (r if i % 2 == 0 else r * 0.78) * math.sin(math.pi * i / 12),
            )
            for i in range(24)
        ]
        cv.draw.polygon(pts, fill=badge, outline=cv.palette.ink, width=max(1, int(cv.u)))
        cv.text_in(
            (int(cx - r * 0.6), int(cy - r * 0.35), int(cx + r * 0.6), int(cy + r * 0.35)),
            cv.number(),
            cv.contrast(badge),
            "sans-bold",
        )
    if cv.rng.random() < 0.5:
        for i in range(3):
            line = (
                art[0] + int(2 * cv.u),
                art[1] + int((4 + i * 12) * cv.u),
                art[0] + int(w * 0.35),
                art[1] + int((13 + i * 12) * cv.u),
            )
            cv.draw.rectangle(line, fill=cv.palette.paper)
            cv.text_in(
                _inset(line, 0.05), cv.phrase(2).upper(), cv.palette.ink, "sans-bold", align="left"
            )


def layout_signage(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    wall = cv.colour()
    cv.draw.rectangle(box, fill=wall)
    mortar = cv.contrast(wall)
    if cv.rng.random() < 0.6:
        bh = cv.rng.uniform(5, 9) * cv.u
        bw = bh * 2.6
        for i, yy in enumerate(np.arange(y0, y1, bh)):
            cv.draw.line((x0, yy, x1, yy), fill=mortar, width=max(1, int(0.6 * cv.u)))
            for xx in np.arange(x0 + (bw / 2 if i % 2 else 0), x1, bw):
                cv.draw.line((xx, yy, xx, yy + bh), fill=mortar, width=max(1, int(0.6 * cv.u)))
    else:
        cv.gradient(box, wall, cv.palette.ink, "linear", levels=6)
    n = cv.rng.randrange(2, 5)
    y = y0 + 0.05 * h
    for _ in range(n):
        sh = cv.rng.uniform(0.14, 0.3) * h
        if y + sh > y1 - 0.03 * h:
            break
        sw = cv.rng.uniform(0.55, 0.92) * w
        sx = x0 + cv.rng.uniform(0.03, 0.97 - sw / w) * w
        plate = cv.colour(avoid=wall)
        sign = (int(sx), int(y), int(sx + sw), int(y + sh))
        radius = int(cv.rng.choice([0, 3, 8]) * cv.u)
        lw = max(1, int(cv.rng.uniform(1, 3) * cv.u))
        text_colour = cv.contrast(plate)
        neon = sum(cv.palette.paper) < 200
        if neon:
            glow = plate
            for k in range(3, 0, -1):
                cv.draw.rounded_rectangle(
                    _grow(sign, k * 2 * cv.u),
                    radius=radius + int(k * 2 * cv.u),
                    outline=tuple(int(c * (0.25 + 0.2 * (3 - k))) for c in glow),
                    width=int(2 * cv.u),
                )
            cv.draw.rounded_rectangle(
                sign, radius=radius, fill=cv.palette.paper, outline=glow, width=lw * 2
            )
            text_colour = cv.colour(avoid=glow)
        else:
            cv.draw.rounded_rectangle(
                sign, radius=radius, fill=plate, outline=cv.palette.ink, width=lw
            )
            cv.draw.rounded_rectangle(
                _grow(sign, -3 * cv.u),
                radius=max(0, radius - int(2 * cv.u)),
                outline=text_colour,
                width=max(1, lw // 2),
            )
        inner = _inset(sign, 0.1)
        if cv.rng.random() < 0.5:
            arrow_w = int((inner[3] - inner[1]) * 1.1)
            _arrow(
                cv,
                (inner[0], inner[1], inner[0] + arrow_w, inner[3]),
                text_colour,
                cv.rng.choice([0, 90, 180, 270, 45]),
            )
            inner = (inner[0] + arrow_w + int(3 * cv.u), inner[1], inner[2], inner[3])
        cv.text_in(
            inner,
            cv.phrase(cv.rng.randrange(1, 3)).upper(),
            text_colour,
            cv.rng.choice(DISPLAY_FONTS),
        )
        y += sh + cv.rng.uniform(0.03, 0.08) * h
    if cv.rng.random() < 0.5:
        s = 0.22 * min(w, h)
        cx, cy = x0 + cv.rng.uniform(0.15, 0.85) * w, y1 - s * 0.8
        pts = [(cx, cy - s * 0.6), (cx + s * 0.6, cy + s * 0.45), (cx - s * 0.6, cy + s * 0.45)]
        cv.draw.polygon(pts, fill=(255, 204, 0), outline=(0, 0, 0), width=max(1, int(2.5 * cv.u)))
        cv.text_in(
            (int(cx - s * 0.2), int(cy - s * 0.25), int(cx + s * 0.2), int(cy + s * 0.38)),
            "!",
            (0, 0, 0),
            "sans-bold",
        )


def _grow(box: Box, d: float) -> Box:
    return (int(box[0] - d), int(box[1] - d), int(box[2] + d), int(box[3] + d))


def _arrow(cv: Canvas, box: Box, colour: RGB, angle: float) -> None:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    s = min(box[2] - box[0], box[3] - box[1]) / 2
    shape = [
        (-1, -0.25),
        (0.15, -0.25),
        (0.15, -0.65),
        (1, 0),
        (0.15, 0.65),
        (0.15, 0.25),
        (-1, 0.25),
    ]
    a = math.radians(angle)
    pts = [
        (cx + s * (x * math.cos(a) - y * math.sin(a)), cy + s * (x * math.sin(a) + y * math.cos(a)))
        for x, y in shape
    ]
    cv.draw.polygon(pts, fill=colour)


def layout_label(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    ground = cv.colour()
    cv.draw.rectangle(box, fill=ground)
    if cv.rng.random() < 0.5:
        cv.hatch(
            box,
            cv.colour(avoid=ground),
            period=cv.rng.uniform(6, 14) * cv.u,
            width=cv.rng.uniform(2, 5) * cv.u,
            angle=cv.rng.choice([0, 90, 45]),
        )
    cv.frame(_inset(box, 0.03), cv.contrast(ground), kind=cv.rng.randrange(4))
    oval = (x0 + int(0.14 * w), y0 + int(0.2 * h), x1 - int(0.14 * w), y1 - int(0.28 * h))
    inner_colour = cv.palette.paper
    lw = max(1, int(1.5 * cv.u))
    if cv.rng.random() < 0.5:
        cv.draw.ellipse(_grow(oval, 4 * cv.u), fill=cv.palette.ink)
        cv.draw.ellipse(oval, fill=inner_colour, outline=cv.colour(avoid=ground), width=lw * 2)
    else:
        cv.draw.rectangle(_grow(oval, 4 * cv.u), fill=cv.palette.ink)
        cv.draw.rectangle(oval, fill=inner_colour, outline=cv.colour(avoid=ground), width=lw * 2)
        for i in range(12):
            a = math.pi * 2 * i / 12
            cx = (oval[0] + oval[2]) / 2 + (oval[2] - oval[0]) * 0.55 * math.cos(a)
            cy = (oval[1] + oval[3]) / 2 + (oval[3] - oval[1]) * 0.55 * math.sin(a)
            cv.draw.regular_polygon((cx, cy, 3 * cv.u), 5, fill=cv.colour(avoid=ground))
    ow, oh = oval[2] - oval[0], oval[3] - oval[1]
    cv.text_in(
        (
            oval[0] + int(0.15 * ow),
            oval[1] + int(0.14 * oh),
            oval[2] - int(0.15 * ow),
            oval[1] + int(0.28 * oh),
        ),
        cv.phrase(2).upper(),
        cv.palette.ink,
        "serif",
        max_size=oh * 0.1,
    )
    cv.text_in(
        (
            oval[0] + int(0.1 * ow),
            oval[1] + int(0.3 * oh),
            oval[2] - int(0.1 * ow),
            oval[1] + int(0.62 * oh),
        ),
        cv.rng.choice(cv.words).title(),
        cv.colour(avoid=inner_colour),
        cv.rng.choice(["stix-italic", "serif-bold", "stix-bold"]),
        stroke=(int(0.6 * cv.u), cv.palette.ink),
    )
    cv.text_in(
        (
            oval[0] + int(0.2 * ow),
            oval[1] + int(0.66 * oh),
            oval[2] - int(0.2 * ow),
            oval[1] + int(0.78 * oh),
        ),
        f"EST. {cv.rng.randrange(1820, 1990)}",
        cv.palette.ink,
        "mono-bold",
    )
    band = (x0 + int(0.08 * w), y1 - int(0.24 * h), x1 - int(0.08 * w), y1 - int(0.06 * h))
    cv.draw.rectangle(band, fill=cv.palette.paper, outline=cv.palette.ink, width=lw)
    code_w = int((band[3] - band[1]) * 1.6)
    cv.barcode(
        (
            band[2] - code_w - int(2 * cv.u),
            band[1] + int(2 * cv.u),
            band[2] - int(2 * cv.u),
            band[3] - int(5 * cv.u),
        ),
        cv.palette.ink,
    )
    cv.paragraph(
        (
            band[0] + int(2 * cv.u),
            band[1] + int(1.5 * cv.u),
            band[2] - code_w - int(5 * cv.u),
            band[3],
        ),
        cv.palette.ink,
        3.4 * cv.u,
        "sans",
    )


def layout_chart(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    dark = cv.rng.random() < 0.4
    bg = cv.palette.ink if dark else cv.palette.paper
    fg = cv.palette.paper if dark else cv.palette.ink
    cv.draw.rectangle(box, fill=bg)
    head = (x0 + int(0.04 * w), y0 + int(0.02 * h), x1 - int(0.04 * w), y0 + int(0.12 * h))
    cv.text_in(head, cv.phrase(3).upper(), fg, cv.rng.choice(DISPLAY_FONTS), align="left")
    cols, rows = cv.rng.choice([(2, 2), (3, 2), (2, 3)])
    gw, gh = (x1 - x0 - int(0.08 * w)) / cols, (y1 - y0 - int(0.17 * h)) / rows
    for r in range(rows):
        for c in range(cols):
            tile = (
                int(x0 + 0.04 * w + c * gw + cv.u * 2),
                int(y0 + 0.15 * h + r * gh + cv.u * 2),
                int(x0 + 0.04 * w + (c + 1) * gw - cv.u * 2),
                int(y0 + 0.15 * h + (r + 1) * gh - cv.u * 2),
            )
            _chart_tile(cv, tile, fg, bg)


def _chart_tile(cv: Canvas, tile: Box, fg: RGB, bg: RGB) -> None:
    x0, y0, x1, y1 = tile
    w, h = x1 - x0, y1 - y0
    lw = max(1, int(0.8 * cv.u))
    cv.draw.rectangle(tile, outline=fg, width=lw)
    cv.text_in(
        (x0 + int(0.05 * w), y0 + int(0.03 * h), x1 - int(0.05 * w), y0 + int(0.14 * h)),
        cv.phrase(2),
        fg,
        "sans-bold",
        align="left",
    )
    plot = (x0 + int(0.12 * w), y0 + int(0.2 * h), x1 - int(0.06 * w), y1 - int(0.12 * h))
    px0, py0, px1, py1 = plot
    kind = cv.rng.randrange(5)
    small = font("mono", max(6, 3.2 * cv.u))
    if kind == 0:
        n = cv.rng.randrange(4, 12)
        bw = (px1 - px0) / n
        for i in range(n):
            v = cv.rng.uniform(0.1, 1)
            cv.draw.rectangle(
                (
                    px0 + i * bw + bw * 0.15,
                    py1 - v * (py1 - py0),
                    px0 + (i + 1) * bw - bw * 0.15,
                    py1,
                ),
                fill=cv.palette.colours[i % len(cv.palette.colours)],
            )
        for k in range(5):
            yy = py1 - k * (py1 - py0) / 4
            cv.draw.line((px0, yy, px1, yy), fill=fg, width=max(1, lw // 2))
            cv.draw.text((x0 + int(0.01 * w), yy - 2 * cv.u), str(k * 25), font=small, fill=fg)
    elif kind == 1:
        cx, cy = (px0 + px1) / 2, (py0 + py1) / 2
        r = min(px1 - px0, py1 - py0) / 2
        start = 0.0
        for i in range(cv.rng.randrange(3, 7)):
            extent = cv.rng.uniform(30, 120)
            cv.draw.pieslice(
                (cx - r, cy - r, cx + r, cy + r),
                start,
                min(360, start + extent),
                fill=cv.palette.colours[i % len(cv.palette.colours)],
                outline=bg,
                width=lw,
            )
            start += extent
            if start >= 360:
                break
        if cv.rng.random() < 0.5:
            cv.draw.ellipse((cx - r * 0.5, cy - r * 0.5, cx + r * 0.5, cy + r * 0.5), fill=bg)
            cv.text_in(
                (int(cx - r * 0.35), int(cy - r * 0.2), int(cx + r * 0.35), int(cy + r * 0.2)),
                cv.number(),
                fg,
                "sans-bold",
            )
    elif kind == 2:
        for s in range(cv.rng.randrange(1, 4)):
            vals = np.cumsum(cv.np_rng.normal(0, 1, 14))
            vals = (vals - vals.min()) / max(np.ptp(vals), 1e-6)
            pts = [(px0 + i * (px1 - px0) / 13, py1 - v * (py1 - py0)) for i, v in enumerate(vals)]
            colour = cv.palette.colours[s % len(cv.palette.colours)]
            cv.draw.line(pts, fill=colour, width=lw * 2)
            for x, y in pts:
                cv.draw.rectangle(
                    (x - lw * 1.5, y - lw * 1.5, x + lw * 1.5, y + lw * 1.5), fill=colour
                )
        cv.draw.line((px0, py0, px0, py1, px1, py1), fill=fg, width=lw)
    elif kind == 3:
        cv.text_in(
            (px0, py0, px1, py0 + int((py1 - py0) * 0.6)),
            cv.number(),
            cv.colour(avoid=bg),
            "sans-bold",
        )
        cv.paragraph((px0, py0 + int((py1 - py0) * 0.66), px1, py1), fg, 3.2 * cv.u, "sans")
    else:
        n = cv.rng.randrange(4, 9)
        rh = (py1 - py0) / n
        for i in range(n):
            yy = py0 + i * rh
            if i % 2 == 0:
                cv.draw.rectangle((px0 - int(0.06 * w), yy, px1, yy + rh), fill=cv.colour(avoid=bg))
            f = font("mono", max(6, rh * 0.6))
            cv.draw.text(
                (px0 - int(0.05 * w), yy + rh * 0.15),
                f"{cv.phrase(1)[:10]:<10} {cv.number():>9}",
                font=f,
                fill=fg if i % 2 else cv.contrast(cv.palette.colours[0]),
            )


def layout_map(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    blue = cv.palette.paper[2] > cv.palette.paper[0] + 40
    cv.draw.rectangle(box, fill=cv.palette.paper)
    line = cv.palette.ink
    grid = max(2, int(cv.rng.choice([8, 12, 16]) * cv.u))
    for xx in range(x0, x1, grid):
        cv.draw.line(
            (xx, y0, xx, y1),
            fill=tuple(
                int(0.75 * a + 0.25 * b) for a, b in zip(cv.palette.paper, line, strict=True)
            ),
            width=1,
        )
    for yy in range(y0, y1, grid):
        cv.draw.line(
            (x0, yy, x1, yy),
            fill=tuple(
                int(0.75 * a + 0.25 * b) for a, b in zip(cv.palette.paper, line, strict=True)
            ),
            width=1,
        )
    lw = max(1, int(cv.u))
    if cv.rng.random() < 0.5 and not blue:
        for _ in range(cv.rng.randrange(3, 7)):
            cx, cy = x0 + cv.rng.random() * w, y0 + cv.rng.random() * h
            r = cv.rng.uniform(0.08, 0.2) * min(w, h)
            pts = [
                (
                    cx + r * (1 + 0.3 * math.sin(3 * a + cv.rng.random())) * math.cos(a),
                    cy + r * (1 + 0.3 * math.cos(2 * a)) * math.sin(a),
                )
                for a in np.linspace(0, 2 * math.pi, 24)
            ]
            cv.draw.polygon(pts, fill=cv.colour())
            for k in range(1, 4):
                cv.draw.line(
                    [
                        (cx + (p[0] - cx) * (1 - 0.22 * k), cy + (p[1] - cy) * (1 - 0.22 * k))
                        for p in pts
                    ]
                    + [
                        (
                            cx + (pts[0][0] - cx) * (1 - 0.22 * k),
                            cy + (pts[0][1] - cy) * (1 - 0.22 * k),
                        )
                    ],
                    fill=line,
                    width=lw,
                )
    for _ in range(cv.rng.randrange(4, 9)):
        pts = []
        x, y = x0 + cv.rng.random() * w, y0
        horizontal = cv.rng.random() < 0.5
        if horizontal:
            x, y = x0, y0 + cv.rng.random() * h
        while x0 <= x <= x1 and y0 <= y <= y1:
            pts.append((x, y))
            step = cv.rng.uniform(10, 30) * cv.u
            if horizontal:
                x += step
                y += cv.rng.choice([0, 0, step * 0.5, -step * 0.5])
            else:
                y += step
                x += cv.rng.choice([0, 0, step * 0.5, -step * 0.5])
        if len(pts) > 1:
            width = int(cv.rng.choice([1, 2, 3]) * cv.u)
            cv.draw.line(pts, fill=line, width=width + 2 * lw, joint="curve")
            if not blue:
                cv.draw.line(pts, fill=cv.colour(), width=max(1, width), joint="curve")
    for _ in range(cv.rng.randrange(3, 8)):
        bx, by = x0 + cv.rng.random() * w * 0.8, y0 + cv.rng.random() * h * 0.8
        bw_, bh_ = cv.rng.uniform(8, 40) * cv.u, cv.rng.uniform(8, 30) * cv.u
        cv.draw.rectangle((bx, by, bx + bw_, by + bh_), outline=line, width=lw)
        if blue:
            cv.draw.line(
                (bx, by + bh_ + 3 * cv.u, bx + bw_, by + bh_ + 3 * cv.u), fill=line, width=1
            )
            for tx in (bx, bx + bw_):
                cv.draw.line(
                    (tx, by + bh_ + 1.5 * cv.u, tx, by + bh_ + 4.5 * cv.u), fill=line, width=1
                )
            cv.draw.text(
                (bx + bw_ / 2 - 4 * cv.u, by + bh_ + 4 * cv.u),
                f"{int(bw_ / cv.u * 10)}",
                font=font("mono", 3.5 * cv.u),
                fill=line,
            )
        else:
            cv.draw.rectangle(
                (bx, by, bx + bw_, by + bh_), fill=cv.colour(), outline=line, width=lw
            )
    for _ in range(cv.rng.randrange(6, 14)):
        tx, ty = x0 + cv.rng.random() * w * 0.85, y0 + cv.rng.random() * h * 0.95
        cv.draw.text(
            (tx, ty),
            cv.phrase(1).title(),
            font=font(
                cv.rng.choice(["serif-italic", "sans", "mono", "stix"]),
                cv.rng.uniform(3.5, 8) * cv.u,
            ),
            fill=line,
        )
    rose = (x1 - int(0.2 * w), y1 - int(0.22 * h))
    r = 0.08 * min(w, h)
    for k in range(8):
        a = k * math.pi / 4
        rr = r if k % 2 == 0 else r * 0.55
        cv.draw.polygon(
            [
                rose,
                (
                    rose[0] + rr * math.cos(a - 0.2),
                    rose[1] + rr * math.sin(a - 0.2) * 0.2 + rr * math.sin(a),
                ),
                (rose[0] + rr * math.cos(a), rose[1] + rr * math.sin(a)),
            ],
            fill=line,
        )
    cv.draw.ellipse(
        (rose[0] - r * 0.3, rose[1] - r * 0.3, rose[0] + r * 0.3, rose[1] + r * 0.3),
        outline=line,
        width=lw,
    )
    title = (x0 + int(0.04 * w), y0 + int(0.03 * h), x0 + int(0.6 * w), y0 + int(0.12 * h))
    cv.draw.rectangle(_grow(title, 2 * cv.u), fill=cv.palette.paper, outline=line, width=lw)
    cv.text_in(
        title, cv.phrase(2).upper(), line, cv.rng.choice(["stix-bold", "mono-bold", "serif-bold"])
    )
    cv.frame(_inset(box, 0.01), line, kind=1)


def layout_textpage(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    paper = cv.palette.paper if sum(cv.palette.paper) > 380 else (240, 236, 226)
    ink = cv.palette.ink if sum(cv.palette.ink) < 380 else (20, 20, 20)
    cv.draw.rectangle(box, fill=paper)
    mast = (x0 + int(0.04 * w), y0 + int(0.02 * h), x1 - int(0.04 * w), y0 + int(0.13 * h))
    cv.text_in(
        mast,
        "The " + cv.phrase(2).title(),
        ink,
        cv.rng.choice(["stix-bold", "serif-bold", "stix-italic"]),
    )
    lw = max(1, int(0.8 * cv.u))
    cv.draw.line((mast[0], mast[3] + 2 * cv.u, mast[2], mast[3] + 2 * cv.u), fill=ink, width=lw * 2)
    cv.text_in(
        (mast[0], mast[3] + 3 * cv.u, mast[2], mast[3] + 8 * cv.u),
        f"{cv.number()}   {cv.phrase(3).upper()}   {cv.number()}",
        ink,
        "serif",
        max_size=5 * cv.u,
    )
    cv.draw.line((mast[0], mast[3] + 9 * cv.u, mast[2], mast[3] + 9 * cv.u), fill=ink, width=lw)
    top = int(mast[3] + 12 * cv.u)
    cols = cv.rng.randrange(2, 6)
    colw = (mast[2] - mast[0]) / cols
    size = cv.rng.uniform(2.6, 4.2) * cv.u
    for c in range(cols):
        cx0, cx1 = int(mast[0] + c * colw + 2 * cv.u), int(mast[0] + (c + 1) * colw - 2 * cv.u)
        y = top
        while y < y1 - 0.04 * h:
            y_before = y
            block = cv.rng.randrange(4)
            if block == 0:
                hh = int(cv.rng.uniform(8, 16) * cv.u)
                cv.text_in(
                    (cx0, y, cx1, y + hh),
                    cv.phrase(cv.rng.randrange(2, 4)).title(),
                    ink,
                    cv.rng.choice(["serif-bold", "stix-bold", "sans-bold"]),
                    align="left",
                )
                y += hh + int(2 * cv.u)
            elif block == 1 and cx1 - cx0 > 30 * cv.u:
                ph = int(cv.rng.uniform(0.1, 0.25) * h)
                photo = (cx0, y, cx1, min(int(y1 - 0.04 * h), y + ph))
                if photo[3] - photo[1] > 10 * cv.u:
                    cv.draw.rectangle(photo, fill=paper)
                    cv.halftone(
                        photo,
                        ink,
                        cell=cv.rng.uniform(2, 3.5) * cv.u,
                        field=cv.rng.choice(["linear", "radial"]),
                    )
                    cv.draw.rectangle(photo, outline=ink, width=lw)
                y += ph + int(3 * cv.u)
            else:
                bh = int(cv.rng.uniform(0.08, 0.25) * h)
                cv.paragraph(
                    (cx0, y, cx1, min(int(y1 - 0.04 * h), y + bh)),
                    ink,
                    size,
                    cv.rng.choice(["serif", "stix", "sans"]),
                )
                y += bh + int(2 * cv.u)
            y = max(y, y_before + 2)
        if c:
            cv.draw.line((cx0 - 2 * cv.u, top, cx0 - 2 * cv.u, y1 - 0.04 * h), fill=ink, width=lw)


def layout_pattern(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    ground = cv.colour()
    cv.draw.rectangle(box, fill=ground)
    kind = cv.rng.randrange(5)
    cell = cv.rng.uniform(14, 40) * cv.u
    lw = max(1, int(cv.u))
    ink = cv.palette.ink
    if kind == 0:
        for i, yy in enumerate(np.arange(y0, y1 + cell, cell * 0.866)):
            off = cell / 2 if i % 2 else 0
            for xx in np.arange(x0 - cell + off, x1 + cell, cell):
                colour = cv.palette.colours[(i + int(xx / cell)) % len(cv.palette.colours)]
                cv.draw.regular_polygon(
                    (xx, yy, cell * 0.55), 6, rotation=30, fill=colour, outline=ink, width=lw
                )
                cv.draw.regular_polygon(
                    (xx, yy, cell * 0.25), 6, rotation=30, fill=cv.palette.paper
                )
    elif kind == 1:
        for i, yy in enumerate(np.arange(y0, y1, cell)):
            for j, xx in enumerate(np.arange(x0, x1, cell)):
                colour = cv.palette.colours[(i * 3 + j) % len(cv.palette.colours)]
                tri = (
                    [(xx, yy), (xx + cell, yy), (xx, yy + cell)]
                    if (i + j) % 2
                    else [(xx + cell, yy), (xx + cell, yy + cell), (xx, yy + cell)]
                )
                cv.draw.rectangle(
                    (xx, yy, xx + cell, yy + cell), fill=cv.palette.paper, outline=ink, width=lw
                )
                cv.draw.polygon(tri, fill=colour)
                cv.draw.ellipse(
                    (xx + cell * 0.35, yy + cell * 0.35, xx + cell * 0.65, yy + cell * 0.65),
                    fill=ink,
                )
    elif kind == 2:
        for k, period in enumerate((cell * 2, cell * 1.3, cell * 0.7)):
            colour = cv.palette.colours[k % len(cv.palette.colours)]
            cv.hatch(box, colour, period=period, width=period * 0.3, angle=0)
            cv.hatch(box, colour, period=period, width=period * 0.3, angle=90)
        cv.hatch(box, ink, period=cell * 0.5, width=0.8 * cv.u, angle=45)
    elif kind == 3:
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        rmax = math.hypot(w, h) / 2
        petals = cv.rng.choice([8, 12, 16, 24])
        for ring, r in enumerate(np.arange(rmax, cell * 0.3, -cell * 0.7)):
            colour = cv.palette.colours[ring % len(cv.palette.colours)]
            pts = []
            for i in range(petals * 2):
                a = math.pi * i / petals + ring * 0.2
                rr = r if i % 2 == 0 else r - cell * 0.5
                pts.append((centre[0] + rr * math.cos(a), centre[1] + rr * math.sin(a)))
            cv.draw.polygon(pts, fill=colour, outline=ink, width=lw)
    else:
        for i, yy in enumerate(np.arange(y0, y1, cell)):
            for j, xx in enumerate(np.arange(x0, x1, cell)):
                inset = cell * 0.06
                tile = (xx + inset, yy + inset, xx + cell - inset, yy + cell - inset)
                colour = cv.palette.colours[cv.rng.randrange(len(cv.palette.colours))]
                cv.draw.rectangle(tile, fill=colour)
                motif = (i + j) % 3
                cc = cv.contrast(colour)
                if motif == 0:
                    cv.draw.ellipse(
                        _inset(tuple(int(t) for t in tile), 0.2), outline=cc, width=lw * 2
                    )
                elif motif == 1:
                    cv.draw.line((tile[0], tile[1], tile[2], tile[3]), fill=cc, width=lw * 2)
                    cv.draw.line((tile[0], tile[3], tile[2], tile[1]), fill=cc, width=lw * 2)
                else:
                    cv.draw.regular_polygon(
                        ((tile[0] + tile[2]) / 2, (tile[1] + tile[3]) / 2, cell * 0.3),
                        4,
                        rotation=45,
                        fill=cc,
                    )


def layout_ticket(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cv.background(box)
    n = cv.rng.randrange(1, 4)
    for i in range(n):
        th = h / n * cv.rng.uniform(0.6, 0.8)
        ty = y0 + i * h / n + (h / n - th) / 2
        tw = w * cv.rng.uniform(0.75, 0.94)
        tx = x0 + (w - tw) / 2 + cv.rng.uniform(-0.02, 0.02) * w
        card = (int(tx), int(ty), int(tx + tw), int(ty + th))
        fill = cv.colour()
        cv.draw.rounded_rectangle(
            _grow(card, 1.5 * cv.u), radius=int(4 * cv.u), fill=cv.palette.ink
        )
        cv.draw.rounded_rectangle(card, radius=int(4 * cv.u), fill=fill)
        cv.halftone(
            _inset(card, 0.04),
            cv.colour(avoid=fill),
            cell=cv.rng.uniform(2, 4) * cv.u,
            field="flat",
            level=0.08,
        )
        stub_x = int(card[0] + 0.72 * (card[2] - card[0]))
        for yy in np.arange(card[1] + 3 * cv.u, card[3] - 2 * cv.u, 4 * cv.u):
            cv.draw.ellipse(
                (stub_x - cv.u, yy - cv.u, stub_x + cv.u, yy + cv.u), fill=cv.palette.paper
            )
        fg = cv.contrast(fill)
        main = (
            card[0] + int(0.05 * tw),
            card[1] + int(0.1 * th),
            stub_x - int(0.04 * tw),
            card[1] + int(0.5 * th),
        )
        cv.text_in(
            main, cv.phrase(cv.rng.randrange(1, 3)).upper(), fg, cv.rng.choice(DISPLAY_FONTS)
        )
        cv.text_in(
            (main[0], main[3] + int(0.04 * th), main[2], main[3] + int(0.2 * th)),
            f"{cv.number()}  {cv.phrase(2)}  {cv.number()}",
            fg,
            "mono",
        )
        cv.frame(_inset(card, 0.03), fg, kind=0)
        stub = (
            stub_x + int(0.03 * tw),
            card[1] + int(0.12 * th),
            card[2] - int(0.03 * tw),
            card[3] - int(0.12 * th),
        )
        if cv.rng.random() < 0.5:
            side = min(stub[2] - stub[0], stub[3] - stub[1])
            cv.draw.rectangle(
                (stub[0], stub[1], stub[0] + side, stub[1] + side), fill=(255, 255, 255)
            )
            cv.code_grid(
                _inset((stub[0], stub[1], stub[0] + side, stub[1] + side), 0.05), (0, 0, 0)
            )
        else:
            cv.text_in(
                (stub[0], stub[1], stub[2], stub[1] + (stub[3] - stub[1]) // 2),
                f"{cv.rng.randrange(1, 60)}{cv.rng.choice('ABCDEF')}",
                fg,
                "sans-bold",
            )
            cv.barcode((stub[0], stub[1] + (stub[3] - stub[1]) * 3 // 5, stub[2], stub[3]), fg)


LAYOUTS: dict[str, Callable[[Canvas, Box, str], None]] = {
    "poster": layout_poster,
    "comic": layout_comic,
    "cover": layout_cover,
    "signage": layout_signage,
    "label": layout_label,
    "chart": layout_chart,
    "map": layout_map,
    "textpage": layout_textpage,
    "pattern": layout_pattern,
    "ticket": layout_ticket,
}


def _row_rng(row: Mapping[str, Any]) -> random.Random:
    key = "\x1f".join(
        [str(row.get("seed")), str(row.get("style")), *map(str, row.get("components") or [])]
    )
    return random.Random(
        int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    )


def render_artwork(row: Mapping[str, Any], width: int, height: int) -> Image.Image:
    """One artwork-like RGB image for a prompt row (uses ``seed``, ``style``, ``components``)."""
    rng = _row_rng(row)
    style = str(row.get("style", ""))
    components = [str(c) for c in (row.get("components") or [])] or [""]
    family = _pick_by_keywords(style, STYLE_FAMILIES, rng, list(PALETTES))
    palette = rng.choice(PALETTES[family])
    cv = Canvas(width * SUPERSAMPLE, height * SUPERSAMPLE, palette, rng, _words(row))
    full = (0, 0, cv.width, cv.height)
    main = _pick_by_keywords(components[0], LAYOUT_KEYWORDS, rng, list(LAYOUTS))
    scene = _pick_by_keywords(
        " ".join(components),
        SCENE_KEYWORDS,
        rng,
        ["abstract", "skyline", "mountains", "sea", "space"],
    )
    LAYOUTS[main](cv, full, scene)
    if len(components) > 1 and rng.random() < 0.65:
        second = _pick_by_keywords(components[1], LAYOUT_KEYWORDS, rng, list(LAYOUTS))
        iw, ih = rng.uniform(0.3, 0.48) * cv.width, rng.uniform(0.3, 0.48) * cv.height
        ix = rng.choice([0.04 * cv.width, cv.width * 0.96 - iw])
        iy = rng.choice([0.06 * cv.height, cv.height * 0.94 - ih])
        inset = (int(ix), int(iy), int(ix + iw), int(iy + ih))
        cv.draw.rectangle(_grow(inset, 2.5 * cv.u), fill=palette.ink)
        with cv.clip(inset):
            LAYOUTS[second](cv, inset, scene)
        cv.draw.rectangle(inset, outline=palette.ink, width=max(1, int(cv.u)))
    return cv.image.reduce(SUPERSAMPLE)


class ProceduralBackend(Backend):
    """Offline artwork renderer; deterministic per row; CPU only."""

    def prepare(self) -> None:
        font_dir()

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Image.Image]:
        return [render_artwork(row, self.config.width, self.config.height) for row in rows]

    def model_identity(self) -> dict[str, str | None]:
        return {"model": f"gasr_hf.procedural@{RENDERER_VERSION}", "model_revision": None}

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": "procedural",
            **self.model_identity(),
            "scheduler": None,
            "steps": None,
            "guidance": None,
            "dtype": "uint8",
            "library_versions": library_versions("pillow", "numpy", "matplotlib"),
        }
