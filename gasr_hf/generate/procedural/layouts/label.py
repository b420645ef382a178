"""Labels and packaging: badges, bands, barcodes and small print."""

from __future__ import annotations

import math

from gasr_hf.generate.procedural.canvas import Box, Canvas, grow_box, inset_box


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
    cv.frame(inset_box(box, 0.03), cv.contrast(ground), kind=cv.rng.randrange(4))
    oval = (x0 + int(0.14 * w), y0 + int(0.2 * h), x1 - int(0.14 * w), y1 - int(0.28 * h))
    inner_colour = cv.palette.paper
    lw = max(1, int(1.5 * cv.u))
    if cv.rng.random() < 0.5:
        cv.draw.ellipse(grow_box(oval, 4 * cv.u), fill=cv.palette.ink)
        cv.draw.ellipse(oval, fill=inner_colour, outline=cv.colour(avoid=ground), width=lw * 2)
    else:
        cv.draw.rectangle(grow_box(oval, 4 * cv.u), fill=cv.palette.ink)
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
