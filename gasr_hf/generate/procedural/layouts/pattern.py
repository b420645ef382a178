"""Textile and tiling patterns."""

from __future__ import annotations

import math

import numpy as np

from gasr_hf.generate.procedural.canvas import Box, Canvas, inset_box


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
                        inset_box(tuple(int(t) for t in tile), 0.2), outline=cc, width=lw * 2
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
