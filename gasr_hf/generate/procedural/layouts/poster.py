"""Posters: a background, a scene and stacked display lettering."""

from __future__ import annotations

from gasr_hf.generate.procedural.canvas import Box, Canvas, inset_box
from gasr_hf.generate.procedural.fonts import DISPLAY_FONTS, TEXT_FONTS


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
        inset_box(head, 0.08),
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
        cv.frame(inset_box(box, 0.015), cv.palette.ink)
