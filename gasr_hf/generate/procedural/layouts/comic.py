"""Colour comic pages: rows of panels with bursts, halftone, hatching, balloons and SFX."""

from __future__ import annotations

from gasr_hf.generate.procedural.canvas import Box, Canvas, inset_box


def layout_comic(cv: Canvas, box: Box, scene: str) -> None:
    cv.draw.rectangle(box, fill=(255, 255, 255) if cv.rng.random() < 0.6 else cv.palette.paper)
    x0, y0, x1, y1 = box
    gutter = int(3 * cv.u)
    rows = cv.rng.randrange(2, 5)
    cuts = sorted(cv.rng.uniform(0.15, 0.85) for _ in range(rows - 1))
    edges = [0.0, *cuts, 1.0]
    ink = cv.palette.ink
    lw = max(1, int(1.6 * cv.u))
    for r in range(rows):
        ry0 = int(y0 + (y1 - y0) * edges[r]) + gutter
        ry1 = int(y0 + (y1 - y0) * edges[r + 1]) - gutter
        n = cv.rng.randrange(1, 4)
        xs = sorted(cv.rng.uniform(0.2, 0.8) for _ in range(n - 1))
        xedges = [0.0, *xs, 1.0]
        for c in range(n):
            slant = int(cv.rng.uniform(-6, 6) * cv.u) if n > 1 else 0
            px0 = int(x0 + (x1 - x0) * xedges[c]) + gutter
            px1 = int(x0 + (x1 - x0) * xedges[c + 1]) - gutter
            panel = (px0, ry0, px1, ry1)
            if px1 - px0 < 12 * cv.u or ry1 - ry0 < 12 * cv.u:
                continue
            kind = cv.rng.randrange(5)
            if kind == 0:
                cv.draw.rectangle(panel, fill=(255, 255, 255))
                cv.burst(panel, ink, rays=cv.rng.choice([40, 72, 110]))
            elif kind == 1:
                cv.draw.rectangle(panel, fill=(255, 255, 255))
                cv.halftone(
                    panel,
                    cv.colour() if cv.palette.colours[0] != ink else (90, 90, 90),
                    cell=cv.rng.uniform(2.5, 5) * cv.u,
                    field=cv.rng.choice(["flat", "linear", "radial"]),
                    level=cv.rng.uniform(0.2, 0.6),
                )
                cv.scene(inset_box(panel, 0.1), cv.rng.choice(["abstract", scene]))
            elif kind == 2:
                cv.scene(panel, scene)
            elif kind == 3:
                cv.draw.rectangle(panel, fill=cv.colour())
                cv.abstract(panel)
            else:
                cv.draw.rectangle(panel, fill=(255, 255, 255))
                cv.hatch(
                    panel,
                    ink,
                    period=cv.rng.uniform(2.5, 5) * cv.u,
                    width=0.8 * cv.u,
                    angle=cv.rng.choice([30, 45, 60, 135]),
                )
                cv.scene(inset_box(panel, 0.15), "abstract")
            if slant:
                cv.draw.polygon(
                    [(px1, ry0), (px1 + slant, ry0), (px1, ry1)]
                    if slant > 0
                    else [(px1, ry0), (px1, ry1), (px1 + slant, ry1)],
                    fill=(255, 255, 255),
                )
            cv.draw.rectangle(panel, outline=ink, width=lw)
            pw, ph = px1 - px0, ry1 - ry0
            if cv.rng.random() < 0.75 and pw > 40 * cv.u and ph > 30 * cv.u:
                bw, bh = pw * cv.rng.uniform(0.35, 0.6), ph * cv.rng.uniform(0.22, 0.38)
                bx, by = px0 + cv.rng.uniform(0.04, 0.96 - bw / pw) * pw, ry0 + ph * 0.06
                cv.bubble((int(bx), int(by), int(bx + bw), int(by + bh)), "")
            if cv.rng.random() < 0.35:
                sfx = cv.rng.choice(
                    ["BOOM!", "KRAK", "WHAM!", "ZOOM", "POW!", "BAM", "SHHH", "DON!", "GOGOGO"]
                )
                cv.rotated_text(
                    (px0 + pw * cv.rng.uniform(0.3, 0.7), ry0 + ph * cv.rng.uniform(0.5, 0.8)),
                    sfx,
                    min(pw, ph) * 0.28,
                    cv.colour(),
                    cv.rng.uniform(-25, 25),
                    cv.rng.choice(["sans-oblique", "stix-bold"]),
                    outline=ink,
                )
