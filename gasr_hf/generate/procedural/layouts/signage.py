"""Signage: stacked shop and street signs with arrows and warning triangles."""

from __future__ import annotations

import numpy as np

from gasr_hf.generate.procedural.canvas import Box, Canvas, arrow, grow_box, inset_box
from gasr_hf.generate.procedural.fonts import DISPLAY_FONTS


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
                    grow_box(sign, k * 2 * cv.u),
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
                grow_box(sign, -3 * cv.u),
                radius=max(0, radius - int(2 * cv.u)),
                outline=text_colour,
                width=max(1, lw // 2),
            )
        inner = inset_box(sign, 0.1)
        if cv.rng.random() < 0.5:
            arrow_w = int((inner[3] - inner[1]) * 1.1)
            arrow(
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
