"""Infographics and dashboards: a grid of chart tiles."""

from __future__ import annotations

import numpy as np

from gasr_hf.generate.procedural.canvas import Box, Canvas
from gasr_hf.generate.procedural.fonts import DISPLAY_FONTS, font
from gasr_hf.generate.procedural.palettes import RGB


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
