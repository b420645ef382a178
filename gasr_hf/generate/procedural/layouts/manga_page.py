"""Black-and-white manga pages: a panel grid with gutters (some cuts slanted, yonkoma strips),
each panel a toned figure, focus or speed lines, hatched scenery or a gradient tone; speech
balloons (round, cloud or spiky) and narration boxes with vertical Japanese lettering, and
katakana sound effects with white outlines."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from gasr_hf.generate.procedural.canvas import Box, Canvas, inset_box
from gasr_hf.generate.procedural.figure import Look, figure
from gasr_hf.generate.procedural.ink import (
    SFX,
    Point,
    blob,
    catmull_rom,
    cross_hatch,
    focus_lines,
    outline,
    shape_mask,
    speed_lines,
    stroke,
    title,
    tone,
    vertical_text,
)
from gasr_hf.generate.procedural.palettes import RGB

INK: RGB = (12, 12, 12)
WHITE: RGB = (255, 255, 255)


def _pitch(cv: Canvas) -> float:
    """A screentone period in canvas pixels: from fine (about 2.5 output pixels) to coarse."""
    return cv.rng.choice([2.5, 3.0, 3.5, 4.5, 6.0, 8.0]) * 2


def _scenery(cv: Canvas, panel: Box) -> None:
    """Buildings in perspective, inked and cross-hatched, under a toned sky."""
    x0, y0, x1, y1 = panel
    w, h = x1 - x0, y1 - y0
    tone(
        cv,
        panel,
        INK,
        _pitch(cv),
        cv.rng.choice([45.0, 0.0, 30.0]),
        (cv.rng.uniform(0.2, 0.5), 0.02),
    )
    vx, vy = x0 + w * cv.rng.uniform(0.2, 0.8), y0 + h * cv.rng.uniform(0.2, 0.5)
    x = x0 - w * 0.1
    while x < x1:
        bw = w * cv.rng.uniform(0.12, 0.3)
        top = y0 + h * cv.rng.uniform(0.15, 0.6)
        front = [(x, y1), (x, top), (x + bw, top), (x + bw, y1)]
        cv.draw.polygon(front, fill=WHITE, outline=INK, width=max(1, int(cv.u)))
        if cv.rng.random() < 0.6:
            box = (int(max(x, x0)), int(top), int(min(x + bw, x1)), int(y1))
            if box[2] - box[0] > 4:
                cross_hatch(cv, box, INK, cv.u * cv.rng.uniform(2, 4), cv.rng.randrange(1, 4))
        for k in range(1, 6):
            yy = top + (y1 - top) * k / 6
            cv.draw.line(
                [(x, yy), (x + (vx - x) * 0.15, yy + (vy - yy) * 0.15)],
                fill=INK,
                width=max(1, int(cv.u * 0.6)),
            )
        x += bw + w * cv.rng.uniform(0.0, 0.05)


def _balloon(cv: Canvas, box: Box, tail: Point) -> None:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
    kind = cv.rng.randrange(4)
    lw = cv.u * cv.rng.uniform(0.6, 1.2)
    stroke(
        cv,
        [(cx - rx * 0.15, cy + ry * 0.6), ((cx + tail[0]) / 2, (cy + tail[1]) / 2), tail],
        rx * 0.35,
        INK,
        0.02,
    )
    stroke(
        cv,
        [(cx - rx * 0.12, cy + ry * 0.55), ((cx + tail[0]) / 2, (cy + tail[1]) / 2), tail],
        rx * 0.35 - 2 * lw,
        WHITE,
        0.02,
    )
    if kind == 0:
        shape = catmull_rom(
            [
                (cx + rx * math.cos(a), cy + ry * math.sin(a))
                for a in [i * math.pi / 6 for i in range(12)]
            ],
            closed=True,
        )
    elif kind == 1:
        shape = blob(cv, cx, cy, rx, ry, lumps=cv.rng.randrange(9, 15))
    elif kind == 2:
        n = cv.rng.randrange(14, 26)
        shape = [
            (
                cx + rx * (1.25 if i % 2 else 0.8) * math.cos(2 * math.pi * i / n),
                cy + ry * (1.25 if i % 2 else 0.8) * math.sin(2 * math.pi * i / n),
            )
            for i in range(n)
        ]
    else:
        shape = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    cv.draw.polygon(shape, fill=WHITE)
    if kind == 3:
        cv.draw.polygon(shape, outline=INK, width=max(1, int(lw)))
    else:
        outline(cv, shape, lw, INK)
    size = max(6.0, min(rx, ry) * cv.rng.uniform(0.22, 0.34))
    text_box = inset_box((int(x0), int(y0), int(x1), int(y1)), 0.22)
    vertical_text(cv, text_box, INK, size, cv.rng.choice([400, 500, 700]))


def _panel(cv: Canvas, panel: Box) -> None:
    x0, y0, x1, y1 = panel
    w, h = x1 - x0, y1 - y0
    kind = cv.rng.randrange(6)
    look = Look(WHITE, WHITE, WHITE, INK, cv.u * cv.rng.uniform(0.5, 1.2), toned=True)
    if kind == 0:
        focus_lines(cv, panel, INK, cv.rng.randrange(120, 320), cv.rng.uniform(0.12, 0.3))
    elif kind == 1:
        speed_lines(
            cv,
            panel,
            INK,
            cv.rng.uniform(0, 180),
            cv.rng.uniform(0.5, 1.5),
            cv.u * cv.rng.uniform(0.5, 1.5),
        )
    elif kind == 2:
        _scenery(cv, panel)
        return
    elif kind == 3:
        tone(
            cv,
            panel,
            INK,
            _pitch(cv),
            cv.rng.choice([0.0, 15.0, 45.0, 60.0]),
            (cv.rng.uniform(0.3, 0.7), 0.0),
        )
    elif kind == 4:
        cv.draw.rectangle(panel, fill=INK)
        speed_lines(cv, panel, WHITE, cv.rng.uniform(0, 180), 0.6, cv.u)
    if w > 30 * cv.u and h > 30 * cv.u:
        scale = cv.rng.uniform(0.8, 1.6)
        fw, fh = w * 0.6 * scale, h * 0.9 * scale
        fx = x0 + cv.rng.uniform(-0.1, 0.7) * w
        fy = y0 + h * cv.rng.uniform(0.02, 0.3)
        figure(cv, (int(fx), int(fy), int(fx + fw), int(fy + fh)), look)
    if kind == 5:
        mask = shape_mask(panel, [blob(cv, x0 + w * 0.5, y0 + h * 0.7, w * 0.6, h * 0.3, 10)])
        tone(cv, panel, INK, _pitch(cv), 45.0, cv.rng.uniform(0.2, 0.5), mask)


def _grid(cv: Canvas, page: Box) -> list[list[Point]]:
    """Panel polygons: rows of panels with gutters, some cuts slanted, or a four-panel strip."""
    x0, y0, x1, y1 = page
    w, h = x1 - x0, y1 - y0
    gutter = cv.u * cv.rng.uniform(2.5, 5)
    if cv.rng.random() < 0.2:
        edges, cols = [i / 4 for i in range(5)], [1] * 4
    else:
        rows = cv.rng.randrange(2, 5)
        edges = [0.0, *sorted(cv.rng.uniform(0.15, 0.85) for _ in range(rows - 1)), 1.0]
        cols = [cv.rng.choice([1, 2, 2, 3]) for _ in range(rows)]
    panels = []
    for r, n in enumerate(cols):
        ty, by = y0 + h * edges[r] + gutter / 2, y0 + h * edges[r + 1] - gutter / 2
        cuts = [0.0, *sorted(cv.rng.uniform(0.25, 0.75) for _ in range(n - 1)), 1.0]
        slants = (
            [0.0]
            + [
                cv.rng.uniform(-0.06, 0.06) * w if cv.rng.random() < 0.4 else 0.0
                for _ in range(n - 1)
            ]
            + [0.0]
        )
        for c in range(n):
            lt = x0 + w * cuts[c] + slants[c] + gutter / 2
            lb = x0 + w * cuts[c] - slants[c] + gutter / 2
            rt = x0 + w * cuts[c + 1] + slants[c + 1] - gutter / 2
            rb = x0 + w * cuts[c + 1] - slants[c + 1] - gutter / 2
            if min(rt - lt, rb - lb) > 10 * cv.u and by - ty > 10 * cv.u:
                panels.append([(lt, ty), (rt, ty), (rb, by), (lb, by)])
    return panels


def layout_manga_page(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cv.draw.rectangle(box, fill=WHITE if cv.rng.random() < 0.7 else (246, 244, 238))
    page = inset_box(box, cv.rng.uniform(0.03, 0.07))
    border = cv.u * cv.rng.uniform(0.8, 2.0)
    for poly in _grid(cv, page):
        bounds = (
            int(min(p[0] for p in poly)),
            int(min(p[1] for p in poly)),
            int(max(p[0] for p in poly)),
            int(max(p[1] for p in poly)),
        )
        mask = shape_mask(bounds, [poly])
        before = cv.image.crop(bounds)
        with cv.clip(bounds):
            _panel(cv, bounds)
            pw, ph = bounds[2] - bounds[0], bounds[3] - bounds[1]
            for _ in range(cv.rng.randrange(0, 3)):
                bw, bh = pw * cv.rng.uniform(0.22, 0.4), ph * cv.rng.uniform(0.3, 0.55)
                bx = bounds[0] + cv.rng.uniform(0.02, 0.98 - bw / pw) * pw
                by = bounds[1] + cv.rng.uniform(0.02, 0.4) * ph
                tail = (bx + bw * cv.rng.uniform(0.2, 0.8), by + bh * 1.3)
                _balloon(cv, (int(bx), int(by), int(bx + bw), int(by + bh)), tail)
            if cv.rng.random() < 0.35:
                size = min(pw, ph) * cv.rng.uniform(0.15, 0.3)
                word = cv.rng.choice(SFX)
                origin = (
                    bounds[0] + pw * cv.rng.uniform(0.05, 0.7),
                    bounds[1] + ph * cv.rng.uniform(0.05, 0.3),
                )
                title(
                    cv, origin, word, size, INK, [(size / 6, WHITE)], vertical=cv.rng.random() < 0.6
                )
        inside = cv.image.crop(bounds)
        before.paste(inside, (0, 0), Image.fromarray(mask.astype(np.uint8) * 255, "L"))
        cv.image.paste(before, bounds[:2])
        cv.draw.polygon(poly, outline=INK, width=max(1, int(border)))
    cv.text_in(
        (int(x0 + w * 0.46), int(y1 - h * 0.028), int(x0 + w * 0.54), int(y1 - h * 0.008)),
        str(cv.rng.randrange(2, 220)),
        INK,
        "serif",
    )
