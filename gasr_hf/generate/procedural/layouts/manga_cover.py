"""Manga and light-novel volume covers in colour: a sky, space, burst or toned ground, one to
three inked cel-shaded figures, a large Japanese title with layered outlines (horizontal or
vertical), the author's name, a volume badge and a publisher band of small print."""

from __future__ import annotations

from PIL import ImageDraw, ImageFilter

from gasr_hf.generate.procedural.canvas import Box, Canvas
from gasr_hf.generate.procedural.figure import Look, figure
from gasr_hf.generate.procedural.fonts import cjk_font
from gasr_hf.generate.procedural.ink import (
    blob,
    cjk_phrase,
    focus_lines,
    horizontal_text,
    sparkles,
    title,
    tone,
)
from gasr_hf.generate.procedural.palettes import COVER_COLOURS, RGB

INK: RGB = (20, 16, 24)
WHITE: RGB = (255, 255, 255)


def _ground(cv: Canvas, box: Box) -> None:
    x0, y0, x1, y1 = box
    kind = cv.rng.randrange(5)
    top, bottom = cv.rng.sample(COVER_COLOURS.sky, 2)
    if kind == 0:
        cv.draw.rectangle(box, fill=WHITE)
        return
    cv.gradient(box, top, bottom)
    if kind == 1:
        w, h = x1 - x0, y1 - y0
        small = cv.image.crop(box).reduce(8)
        layer = small.copy()
        draw = ImageDraw.Draw(layer)
        for _ in range(cv.rng.randrange(3, 9)):
            pts = blob(cv, cv.rng.uniform(0, w / 8), cv.rng.uniform(0, h / 10), w / 40, h / 90, 9)
            draw.polygon(pts, fill=WHITE)
        layer = layer.filter(ImageFilter.GaussianBlur(cv.u / 3))
        cv.image.paste(layer.resize((w, h)), box[:2])
    elif kind == 2:
        cv.draw.rectangle(box, fill=(12, 14, 40))
        sparkles(cv, box, WHITE, cv.rng.randrange(80, 220))
    elif kind == 3:
        focus_lines(cv, box, cv.rng.choice(COVER_COLOURS.sky), cv.rng.randrange(90, 200), 0.15)
    else:
        tone(
            cv,
            box,
            cv.rng.choice(COVER_COLOURS.title),
            cv.u * cv.rng.uniform(2.5, 6),
            cv.rng.choice([15.0, 45.0, 75.0]),
            (0.05, cv.rng.uniform(0.3, 0.6)),
        )


def layout_manga_cover(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    u = cv.u
    _ground(cv, box)
    for k in range(cv.rng.choice([1, 1, 2, 3])):
        fw = w * cv.rng.uniform(0.45, 0.8) / (1 + 0.25 * k)
        fh = h * cv.rng.uniform(0.6, 0.95) / (1 + 0.2 * k)
        fx = x0 + cv.rng.uniform(-0.1, 1.0) * (w - fw)
        fy = y0 + h * cv.rng.uniform(0.15, 0.35)
        look = Look(
            skin=cv.rng.choice(COVER_COLOURS.skin),
            hair=cv.rng.choice(COVER_COLOURS.hair),
            cloth=cv.rng.choice(COVER_COLOURS.cloth),
            ink=INK,
            line=u * cv.rng.uniform(0.5, 1.4),
        )
        with cv.clip(box):
            figure(cv, (int(fx), int(fy), int(fx + fw), int(fy + fh)), look)
    fill, edge, outer = cv.rng.sample(COVER_COLOURS.title, 3)
    chars = cv.rng.randrange(2, 7)
    if cv.rng.random() < 0.35:
        size = min(h * 0.8 / chars, w * 0.22)
        origin = (x0 + w * cv.rng.choice([0.05, 0.75]), y0 + h * 0.05)
        title(
            cv,
            origin,
            cjk_phrase(cv, chars),
            size,
            fill,
            [(size / 7, outer), (size / 14, edge)],
            vertical=True,
        )
    else:
        size = min(w * 0.9 / chars, h * 0.2)
        origin = (
            x0 + w * cv.rng.uniform(0.03, 0.95 - chars * size / w),
            y0 + h * cv.rng.choice([0.04, 0.62]),
        )
        title(cv, origin, cjk_phrase(cv, chars), size, fill, [(size / 7, outer), (size / 14, edge)])
        cv.text_in(
            (
                int(origin[0]),
                int(origin[1] + size * 1.25),
                int(origin[0] + chars * size),
                int(origin[1] + size * 1.55),
            ),
            cv.phrase(cv.rng.randrange(1, 4)).upper(),
            edge,
            cv.rng.choice(["sans-bold", "sans-oblique", "serif-bold"]),
            align="left",
        )
    author = cjk_phrase(cv, cv.rng.randrange(3, 6), kana_share=0.2)
    asize = u * cv.rng.uniform(8, 14)
    ax, ay = x0 + w * cv.rng.uniform(0.05, 0.55), y0 + h * cv.rng.uniform(0.8, 0.88)
    cv.draw.text(
        (ax, ay),
        author,
        font=cjk_font(int(asize), 700),
        fill=INK,
        stroke_width=int(asize / 8),
        stroke_fill=WHITE,
    )
    r = u * cv.rng.uniform(8, 14)
    bx, by = x0 + w * cv.rng.choice([0.1, 0.88]), y0 + h * cv.rng.uniform(0.3, 0.75)
    cv.draw.ellipse(
        (bx - r, by - r, bx + r, by + r), fill=edge, outline=WHITE, width=max(1, int(u))
    )
    cv.text_in(
        (int(bx - r * 0.6), int(by - r * 0.6), int(bx + r * 0.6), int(by + r * 0.6)),
        str(cv.rng.randrange(1, 40)),
        cv.contrast(edge),
        "sans-bold",
    )
    band_h = int(h * cv.rng.uniform(0.025, 0.05))
    band_y = y1 - band_h if cv.rng.random() < 0.6 else y0
    cv.draw.rectangle((x0, band_y, x1, band_y + band_h), fill=cv.rng.choice([WHITE, INK, edge]))
    band_ink = cv.contrast(cv.image.getpixel((x0 + 1, band_y + 1)))
    cv.text_in(
        (int(x0 + w * 0.03), band_y + band_h // 6, int(x0 + w * 0.4), band_y + band_h * 5 // 6),
        cv.phrase(2).upper() + " COMICS",
        band_ink,
        "sans-bold",
        align="left",
    )
    horizontal_text(
        cv,
        (int(x0 + w * 0.55), band_y + band_h // 5, int(x1 - w * 0.03), band_y + band_h),
        band_ink,
        band_h * 0.5,
        500,
        lines=1,
    )
    if cv.rng.random() < 0.5:
        sparkles(cv, box, WHITE, cv.rng.randrange(5, 30))
