"""Maps, plans and blueprints: streets, contours, grids and legends."""

from __future__ import annotations

import math

import numpy as np

from gasr_hf.generate.procedural.canvas import Box, Canvas, grow_box, inset_box
from gasr_hf.generate.procedural.fonts import font


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
    cv.draw.rectangle(grow_box(title, 2 * cv.u), fill=cv.palette.paper, outline=line, width=lw)
    cv.text_in(
        title, cv.phrase(2).upper(), line, cv.rng.choice(["stix-bold", "mono-bold", "serif-bold"])
    )
    cv.frame(inset_box(box, 0.01), line, kind=1)
