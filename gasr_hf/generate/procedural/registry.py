"""The one registry: a row's style picks a palette family, its components a layout and a scene."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PIL import Image

from gasr_hf.generate.procedural.canvas import Box, Canvas, grow_box
from gasr_hf.generate.procedural.finish import BACKEND_STEPS, apply_finish, draw_finish
from gasr_hf.generate.procedural.layouts.chart import layout_chart
from gasr_hf.generate.procedural.layouts.comic import layout_comic
from gasr_hf.generate.procedural.layouts.cover import layout_cover
from gasr_hf.generate.procedural.layouts.label import layout_label
from gasr_hf.generate.procedural.layouts.manga_cover import layout_manga_cover
from gasr_hf.generate.procedural.layouts.manga_page import layout_manga_page
from gasr_hf.generate.procedural.layouts.map import layout_map
from gasr_hf.generate.procedural.layouts.pattern import layout_pattern
from gasr_hf.generate.procedural.layouts.poster import layout_poster
from gasr_hf.generate.procedural.layouts.signage import layout_signage
from gasr_hf.generate.procedural.layouts.textpage import layout_textpage
from gasr_hf.generate.procedural.layouts.ticket import layout_ticket
from gasr_hf.generate.procedural.palettes import PALETTES

SUPERSAMPLE = 2

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
        "manga_cover",
        "manga volume|manga cover|light novel|anime|character|tankobon|key visual|"
        "comic book cover|idol|mascot",
    ),
    (
        "manga_page",
        "manga|screentone|yonkoma|four-panel|speech balloon|speed lines|focus lines|"
        "onomatopoeia|sound effect|storyboard|cross-hatch",
    ),
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


def _words(row: Mapping[str, Any]) -> list[str]:
    text = " ".join([str(row.get("style", "")), *map(str, row.get("components") or [])])
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'\-]+", text) if w.lower() not in _STOP] or [
        "ART"
    ]


_STOP = {"a", "an", "the", "and", "of", "with", "in", "on", "for"}


def pick_by_keywords(
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


LAYOUTS: dict[str, Callable[[Canvas, Box, str], None]] = {
    "poster": layout_poster,
    "comic": layout_comic,
    "manga_page": layout_manga_page,
    "manga_cover": layout_manga_cover,
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


def render_artwork(
    row: Mapping[str, Any], width: int, height: int, finish: Sequence[str] = BACKEND_STEPS
) -> Image.Image:
    """One artwork-like RGB image for a prompt row (uses ``seed``, ``style``, ``components``), with
    the finishing steps ``finish`` (:mod:`.finish`; ``()`` for none, the renderer v2 pixels)."""
    rng = _row_rng(row)
    style = str(row.get("style", ""))
    components = [str(c) for c in (row.get("components") or [])] or [""]
    family = pick_by_keywords(style, STYLE_FAMILIES, rng, list(PALETTES))
    palette = rng.choice(PALETTES[family])
    cv = Canvas(width * SUPERSAMPLE, height * SUPERSAMPLE, palette, rng, _words(row))
    full = (0, 0, cv.width, cv.height)
    main = pick_by_keywords(components[0], LAYOUT_KEYWORDS, rng, list(LAYOUTS))
    scene = pick_by_keywords(
        " ".join(components),
        SCENE_KEYWORDS,
        rng,
        ["abstract", "skyline", "mountains", "sea", "space"],
    )
    LAYOUTS[main](cv, full, scene)
    if len(components) > 1 and rng.random() < 0.65:
        second = pick_by_keywords(components[1], LAYOUT_KEYWORDS, rng, list(LAYOUTS))
        iw, ih = rng.uniform(0.3, 0.48) * cv.width, rng.uniform(0.3, 0.48) * cv.height
        ix = rng.choice([0.04 * cv.width, cv.width * 0.96 - iw])
        iy = rng.choice([0.06 * cv.height, cv.height * 0.94 - ih])
        inset = (int(ix), int(iy), int(ix + iw), int(iy + ih))
        cv.draw.rectangle(grow_box(inset, 2.5 * cv.u), fill=palette.ink)
        with cv.clip(inset):
            LAYOUTS[second](cv, inset, scene)
        cv.draw.rectangle(inset, outline=palette.ink, width=max(1, int(cv.u)))
    image = cv.image.reduce(SUPERSAMPLE)
    if not finish:
        return image
    return apply_finish(image, draw_finish(rng, finish), rng.getrandbits(64))
