"""Book, magazine and record covers: a framed illustration under a masthead."""

from __future__ import annotations

import math

from gasr_hf.generate.procedural.canvas import Box, Canvas, inset_box
from gasr_hf.generate.procedural.fonts import DISPLAY_FONTS


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
        inset_box(band, 0.12),
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
                inset_box(line, 0.05),
                cv.phrase(2).upper(),
                cv.palette.ink,
                "sans-bold",
                align="left",
            )
