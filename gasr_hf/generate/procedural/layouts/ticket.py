"""Tickets, cards and passes: a body, a perforated stub and codes."""

from __future__ import annotations

import numpy as np

from gasr_hf.generate.procedural.canvas import Box, Canvas, grow_box, inset_box
from gasr_hf.generate.procedural.fonts import DISPLAY_FONTS


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
            grow_box(card, 1.5 * cv.u), radius=int(4 * cv.u), fill=cv.palette.ink
        )
        cv.draw.rounded_rectangle(card, radius=int(4 * cv.u), fill=fill)
        cv.halftone(
            inset_box(card, 0.04),
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
        cv.frame(inset_box(card, 0.03), fg, kind=0)
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
                inset_box((stub[0], stub[1], stub[0] + side, stub[1] + side), 0.05), (0, 0, 0)
            )
        else:
            cv.text_in(
                (stub[0], stub[1], stub[2], stub[1] + (stub[3] - stub[1]) // 2),
                f"{cv.rng.randrange(1, 60)}{cv.rng.choice('ABCDEF')}",
                fg,
                "sans-bold",
            )
            cv.barcode((stub[0], stub[1] + (stub[3] - stub[1]) * 3 // 5, stub[2], stub[3]), fg)
