"""A stylised manga figure: hair masses and strands, a face with large eyes, a body and limbs, all
inked with strokes of varying weight and shaded either in cel colour or in screentone.

Not a drawing of anyone: the statistics of character art (smooth inked contours, long thin hair
strands, small bright highlights, flat or toned shadow shapes) built from blobs and strokes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gasr_hf.generate.procedural.canvas import Box, Canvas
from gasr_hf.generate.procedural.ink import (
    Point,
    blob,
    catmull_rom,
    outline,
    shape_mask,
    stroke,
    tone,
)
from gasr_hf.generate.procedural.palettes import RGB

WHITE: RGB = (255, 255, 255)


@dataclass(frozen=True)
class Look:
    """How a figure is coloured: ``toned`` draws shadows as screentone in ``ink`` (a black and
    white page); otherwise shadows are a darker flat colour (a colour cover)."""

    skin: RGB
    hair: RGB
    cloth: RGB
    ink: RGB
    line: float
    """Ink line width in canvas pixels."""
    toned: bool = False


def _darker(colour: RGB, k: float = 0.72) -> RGB:
    return tuple(int(c * k) for c in colour)  # type: ignore[return-value]


def _lighter(colour: RGB, k: float = 0.55) -> RGB:
    return tuple(int(c + (255 - c) * k) for c in colour)  # type: ignore[return-value]


def _bounds(polygons: Sequence[Sequence[Point]], cv: Canvas) -> Box:
    xs = [x for poly in polygons for x, _ in poly]
    ys = [y for poly in polygons for _, y in poly]
    return (
        max(0, int(min(xs)) - 1),
        max(0, int(min(ys)) - 1),
        min(cv.width, int(max(xs)) + 2),
        min(cv.height, int(max(ys)) + 2),
    )


def shaded(cv: Canvas, pts: Sequence[Point], colour: RGB, look: Look) -> None:
    """Fill a closed shape, shade the side away from an upper-left light, ink its contour."""
    cv.draw.polygon(list(pts), fill=WHITE if look.toned else colour)
    box = _bounds([pts], cv)
    if box[2] - box[0] > 4 and box[3] - box[1] > 4:
        size = max(box[2] - box[0], box[3] - box[1])
        shift = size * cv.rng.uniform(0.12, 0.3)
        moved = [(x - shift, y - shift * 0.8) for x, y in pts]
        inside = shape_mask(box, [pts])
        lit = shape_mask(box, [moved])
        shadow = inside & ~lit
        if look.toned:
            tone(
                cv,
                box,
                look.ink,
                cv.rng.choice([3.0, 4.0, 5.0, 6.5]) * cv.u / 2,
                cv.rng.choice([45.0, 30.0, 60.0, 0.0]),
                cv.rng.uniform(0.15, 0.45),
                shadow,
            )
        else:
            cv.mask_fill(box, shadow, _darker(colour))
    outline(cv, pts, look.line, look.ink)


def limb(cv: Canvas, pts: Sequence[Point], width: float, colour: RGB, look: Look) -> None:
    """An arm or leg: an inked tube along a smooth path."""
    path = catmull_rom(pts, closed=False, samples=8)
    stroke(cv, path, width + 2 * look.line, look.ink, taper=0.7)
    stroke(cv, path, width, WHITE if look.toned else colour, taper=0.7)


def eye(cv: Canvas, cx: float, cy: float, r: float, look: Look, iris: RGB) -> None:
    """A large manga eye: iris with a darker top, pupil, two highlights, a heavy upper lash."""
    ry = r * 1.3
    cv.draw.ellipse((cx - r, cy - ry, cx + r, cy + ry), fill=WHITE, outline=look.ink, width=1)
    ir = r * 0.82
    top = look.ink if look.toned else _darker(iris, 0.45)
    cv.draw.ellipse((cx - ir, cy - ry * 0.8, cx + ir, cy + ry * 0.95), fill=top)
    if not look.toned:
        cv.draw.ellipse((cx - ir * 0.85, cy - ry * 0.1, cx + ir * 0.85, cy + ry * 0.9), fill=iris)
    pr = ir * 0.45
    cv.draw.ellipse((cx - pr, cy - pr, cx + pr, cy + pr * 1.2), fill=look.ink)
    hr = r * 0.3
    cv.draw.ellipse(
        (cx - ir * 0.6, cy - ry * 0.5, cx - ir * 0.6 + 2 * hr, cy - ry * 0.5 + 2 * hr), fill=WHITE
    )
    cv.draw.ellipse(
        (cx + ir * 0.2, cy + ry * 0.35, cx + ir * 0.2 + hr, cy + ry * 0.35 + hr), fill=WHITE
    )
    lash = [
        (cx - r * 1.25, cy - ry * 0.55),
        (cx - r * 0.3, cy - ry * 1.12),
        (cx + r * 1.2, cy - ry * 0.8),
    ]
    stroke(cv, catmull_rom(lash, closed=False, samples=6), look.line * 2.6, look.ink, taper=0.35)


def hair_strands(cv: Canvas, cx: float, cy: float, r: float, look: Look, count: int) -> None:
    """Long thin strokes falling from the crown: the fine detail of drawn hair."""
    for _ in range(count):
        a = cv.rng.uniform(-math.pi * 0.95, -math.pi * 0.05)
        sx, sy = cx + r * 0.9 * math.cos(a), cy + r * 0.9 * math.sin(a)
        side = 1 if sx > cx else -1
        length = r * cv.rng.uniform(0.6, 2.4)
        pts = [
            (sx, sy),
            (sx + side * length * cv.rng.uniform(0.1, 0.4), sy + length * 0.45),
            (sx + side * length * cv.rng.uniform(0.0, 0.5), sy + length),
        ]
        stroke(
            cv,
            catmull_rom(pts, closed=False, samples=7),
            look.line * cv.rng.uniform(0.3, 0.9),
            look.ink,
            0.05,
        )


def figure(cv: Canvas, box: Box, look: Look) -> None:
    """A character filling ``box``: back hair, body and arms, head, eyes, bangs and strands."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    r = min(w * 0.24, h * 0.16)
    cx = x0 + w * cv.rng.uniform(0.4, 0.6)
    cy = y0 + r * 1.4
    tilt = cv.rng.uniform(-0.25, 0.25) * r
    shaded(cv, blob(cv, cx, cy + r * 0.9, r * 1.5, r * 1.9, lumps=9), look.hair, look)
    body = blob(cv, cx, cy + r * 3.2, r * 1.35, r * 1.9, lumps=8)
    for side in (-1, 1):
        sx, sy = cx + side * r * 1.1, cy + r * 2.0
        reach = cv.rng.uniform(1.6, 3.0) * r
        ang = cv.rng.uniform(-0.9, 1.4)
        elbow = (
            sx + side * reach * 0.55 * math.cos(ang),
            sy + reach * 0.6 * abs(math.sin(ang)) + r * 0.3,
        )
        hand = (
            elbow[0] + side * reach * 0.4 * cv.rng.uniform(-1, 1),
            elbow[1] - reach * cv.rng.uniform(-0.6, 0.6),
        )
        limb(cv, [(sx, sy), elbow, hand], r * 0.42, look.cloth, look)
        cv.draw.ellipse(
            (hand[0] - r * 0.22, hand[1] - r * 0.22, hand[0] + r * 0.22, hand[1] + r * 0.22),
            fill=WHITE if look.toned else look.skin,
            outline=look.ink,
            width=max(1, int(look.line * 0.7)),
        )
    shaded(cv, body, look.cloth, look)
    for _ in range(cv.rng.randrange(2, 6)):
        fx = cx + cv.rng.uniform(-0.9, 0.9) * r
        fold = [
            (fx, cy + r * 2.2),
            (fx + cv.rng.uniform(-0.3, 0.3) * r, cy + r * 3.2),
            (fx + cv.rng.uniform(-0.5, 0.5) * r, cy + r * 4.2),
        ]
        stroke(cv, catmull_rom(fold, closed=False, samples=6), look.line * 0.8, look.ink, 0.05)
    face = [
        (cx - r * 0.95, cy - r * 0.2),
        (cx - r * 0.8, cy + r * 0.55),
        (cx + tilt * 0.3, cy + r * 1.15),
        (cx + r * 0.8, cy + r * 0.55),
        (cx + r * 0.95, cy - r * 0.2),
        (cx, cy - r * 1.0),
    ]
    face = catmull_rom(face, closed=True, samples=8)
    cv.draw.polygon(face, fill=WHITE if look.toned else look.skin)
    outline(cv, face, look.line, look.ink)
    iris = cv.rng.choice(
        [(40, 110, 200), (180, 60, 90), (60, 150, 90), (120, 70, 30), (140, 80, 200)]
    )
    for side in (-1, 1):
        eye(cv, cx + side * r * 0.42 + tilt * 0.2, cy + r * 0.25, r * 0.2, look, iris)
    mouth = [
        (cx - r * 0.12, cy + r * 0.78),
        (cx + tilt * 0.2, cy + r * 0.84),
        (cx + r * 0.12, cy + r * 0.78),
    ]
    stroke(cv, mouth, look.line * 0.8, look.ink, 0.2)
    for _ in range(cv.rng.randrange(4, 8)):
        a = cv.rng.uniform(-math.pi * 0.9, -math.pi * 0.1)
        bx, by = cx + r * 0.6 * math.cos(a), cy - r * 0.9 + r * 0.3 * math.sin(a)
        tip = (bx + cv.rng.uniform(-0.5, 0.5) * r, cy + r * cv.rng.uniform(-0.1, 0.35))
        lock = [
            (bx - r * 0.35, by),
            ((bx + tip[0]) / 2 - r * 0.1, (by + tip[1]) / 2),
            tip,
            ((bx + tip[0]) / 2 + r * 0.12, (by + tip[1]) / 2),
            (bx + r * 0.35, by),
        ]
        lock = catmull_rom(lock, closed=True, samples=5)
        cv.draw.polygon(lock, fill=WHITE if look.toned else look.hair)
        outline(cv, lock, look.line * 0.8, look.ink)
    cap = catmull_rom(
        [
            (cx - r * 1.05, cy),
            (cx - r * 0.7, cy - r * 0.95),
            (cx, cy - r * 1.25),
            (cx + r * 0.7, cy - r * 0.95),
            (cx + r * 1.05, cy),
            (cx, cy - r * 0.6),
        ],
        closed=True,
        samples=6,
    )
    shaded(cv, cap, look.hair, look)
    if not look.toned:
        gloss = np.asarray(blob(cv, cx - r * 0.2, cy - r * 0.75, r * 0.45, r * 0.1, lumps=5))
        cv.draw.polygon([tuple(p) for p in gloss], fill=_lighter(look.hair))
    hair_strands(cv, cx, cy - r * 0.2, r, look, cv.rng.randrange(10, 30))
