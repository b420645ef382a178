"""Ink-drawing primitives for manga and illustration: smooth curves, strokes that swell and taper
like a brush or G-pen, screentone inside any shape, speed and focus lines, cross-hatching, and
Japanese lettering (horizontal and vertical) in Noto Sans JP.

Every function draws on a :class:`Canvas` in canvas pixels and takes its randomness from the
canvas's streams, so a row still gives the same pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from gasr_hf.generate.procedural.canvas import Box, Canvas
from gasr_hf.generate.procedural.fonts import cjk_font
from gasr_hf.generate.procedural.palettes import RGB

Point = tuple[float, float]

HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3094))
KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30F5)) + "ー"
KANJI = (
    "日月火水木金土山川田人口目耳手足力気天空雨雪風花草竹石玉王子女男父母兄弟姉妹友先生学校"
    "本文字語話言読書見聞食飲行来出入上下左右中大小長高安新古多少早明暗白黒赤青春夏秋冬朝昼夜"
    "東西南北町村市国家道店駅車電海島星光夢愛恋心思想命戦神魔剣龍鬼忍者侍姫少年少女物語伝説"
    "第一二三四五六七八九十百千万円時分年週何誰私君僕俺彼方今回最強無敵爆烈冒険世界未来宇宙"
)
PUNCTUATION = "、。！？…「」"
SFX = (
    "ドドド",
    "ゴゴゴ",
    "バン",
    "ドン",
    "ザッ",
    "シーン",
    "ズキューン",
    "ガシャーン",
    "ゴォォ",
    "ピカッ",
)


def cjk_phrase(cv: Canvas, n: int, kana_share: float = 0.6) -> str:
    """``n`` characters of mixed kanji and kana: the look of Japanese, not a sentence."""
    out = []
    for _ in range(n):
        r = cv.rng.random()
        if r < kana_share * 0.6:
            out.append(cv.rng.choice(HIRAGANA))
        elif r < kana_share:
            out.append(cv.rng.choice(KATAKANA))
        else:
            out.append(cv.rng.choice(KANJI))
    return "".join(out)


def catmull_rom(points: Sequence[Point], closed: bool, samples: int = 10) -> list[Point]:
    """A smooth curve through ``points`` (uniform Catmull-Rom), ``samples`` points per span."""
    pts = list(points)
    n = len(pts)
    if n < 3:
        return pts
    spans = n if closed else n - 1
    out: list[Point] = []
    for i in range(spans):
        p0 = pts[(i - 1) % n] if closed else pts[max(i - 1, 0)]
        p1 = pts[i % n]
        p2 = pts[(i + 1) % n] if closed else pts[min(i + 1, n - 1)]
        p3 = pts[(i + 2) % n] if closed else pts[min(i + 2, n - 1)]
        for s in range(samples):
            t = s / samples
            t2, t3 = t * t, t * t * t
            out.append(
                tuple(  # type: ignore[arg-type]
                    0.5
                    * (
                        2 * b
                        + (-a + c) * t
                        + (2 * a - 5 * b + 4 * c - d) * t2
                        + (-a + 3 * b - 3 * c + d) * t3
                    )
                    for a, b, c, d in zip(p0, p1, p2, p3, strict=True)
                )
            )
    if not closed:
        out.append(pts[-1])
    return out


def blob(cv: Canvas, cx: float, cy: float, rx: float, ry: float, lumps: int = 7) -> list[Point]:
    """A smooth closed organic shape around (cx, cy): hair masses, limbs, clouds, rocks."""
    phase = cv.rng.uniform(0, 2 * math.pi)
    pts = []
    for i in range(lumps):
        a = phase + 2 * math.pi * i / lumps
        k = cv.rng.uniform(0.7, 1.15)
        pts.append((cx + rx * k * math.cos(a), cy + ry * k * math.sin(a)))
    return catmull_rom(pts, closed=True, samples=8)


def stroke(
    cv: Canvas, pts: Sequence[Point], width: float, colour: RGB, taper: float = 0.15
) -> None:
    """A brush stroke along ``pts``: thin at both ends (``taper`` x width), full width mid-way."""
    n = len(pts)
    if n < 2:
        return
    arr = np.asarray(pts, np.float64)
    tangent = np.gradient(arr, axis=0)
    norm = np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1) / np.maximum(norm, 1e-6)
    t = np.linspace(0, 1, n)
    half = 0.5 * width * (taper + (1 - taper) * np.sin(np.pi * t) ** 0.6)
    left = arr + normal * half[:, None]
    right = arr - normal * half[:, None]
    polygon = [tuple(p) for p in left] + [tuple(p) for p in right[::-1]]
    cv.draw.polygon(polygon, fill=colour)


def outline(cv: Canvas, pts: Sequence[Point], width: float, colour: RGB) -> None:
    """Ink a closed curve as a few overlapping brush strokes of varying weight, as a pen does."""
    n = len(pts)
    start = cv.rng.randrange(n)
    done = 0
    while done < n:
        span = min(n - done, cv.rng.randrange(max(4, n // 5), max(6, n // 2)))
        segment = [pts[(start + done + k) % n] for k in range(span + 2)]
        stroke(cv, segment, width * cv.rng.uniform(0.5, 1.4), colour, taper=0.3)
        done += span


def shape_mask(box: Box, polygons: Sequence[Sequence[Point]]) -> np.ndarray:
    """A boolean mask over ``box`` of the union of ``polygons`` (canvas coordinates)."""
    w, h = box[2] - box[0], box[3] - box[1]
    layer = Image.new("L", (max(w, 1), max(h, 1)), 0)
    draw = ImageDraw.Draw(layer)
    for poly in polygons:
        draw.polygon([(x - box[0], y - box[1]) for x, y in poly], fill=255)
    return np.asarray(layer) > 127


def tone(
    cv: Canvas,
    box: Box,
    colour: RGB,
    pitch: float,
    angle: float,
    level: float | tuple[float, float],
    mask: np.ndarray | None = None,
    kind: str = "dots",
) -> None:
    """Screentone in ``box`` (optionally only where ``mask``): dots, lines or a dot gradient.

    ``pitch`` is the screen's period in canvas pixels, ``angle`` its rotation in degrees and
    ``level`` the ink coverage, 0-1, or a (top, bottom) pair for a vertical gradient tone.
    """
    xs, ys = cv.pixel_grid(box)
    a = math.radians(angle)
    u = xs * math.cos(a) + ys * math.sin(a)
    if isinstance(level, tuple):
        h = max(box[3] - box[1], 1)
        cover = level[0] + (level[1] - level[0]) * (ys - box[1]) / h
    else:
        cover = np.float32(level)
    if kind == "lines":
        ink = (u / pitch) % 1.0 < cover
    else:
        v = -xs * math.sin(a) + ys * math.cos(a)
        dist = np.hypot((u / pitch) % 1.0 - 0.5, (v / pitch) % 1.0 - 0.5)
        ink = dist < np.sqrt(np.clip(cover, 0, 1)) * 0.5642
    if mask is not None:
        ink &= mask
    cv.mask_fill(box, ink, colour)


def speed_lines(
    cv: Canvas, box: Box, colour: RGB, angle: float, density: float, width: float
) -> None:
    """Parallel action lines across ``box``: many tapered strokes of random length and weight."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    reach = math.hypot(w, h)
    count = int(density * reach / max(width, 1))
    for _ in range(count):
        off = cv.rng.uniform(-0.5, 0.5) * reach
        along = cv.rng.uniform(-0.5, 0.3) * reach
        length = cv.rng.uniform(0.2, 0.9) * reach
        cx, cy = (x0 + x1) / 2 - dy * off + dx * along, (y0 + y1) / 2 + dx * off + dy * along
        pts = [(cx + dx * length * k / 6, cy + dy * length * k / 6) for k in range(7)]
        stroke(cv, pts, width * cv.rng.uniform(0.3, 1.5), colour, taper=0.05)


def focus_lines(
    cv: Canvas, box: Box, colour: RGB, rays: int, clear: float, centre: Point | None = None
) -> None:
    """Focus lines (a manga 'shuuchuusen'): thin wedges converging on a point, stopping at a
    clear oval of relative size ``clear`` around it."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = centre or (x0 + w * cv.rng.uniform(0.35, 0.65), y0 + h * cv.rng.uniform(0.35, 0.65))
    reach = math.hypot(w, h)
    for _ in range(rays):
        a = cv.rng.uniform(0, 2 * math.pi)
        inner = reach * clear * cv.rng.uniform(0.6, 1.3)
        da = cv.rng.uniform(0.002, 0.012)
        cv.draw.polygon(
            [
                (cx + inner * math.cos(a), cy + inner * math.sin(a) * h / max(w, 1)),
                (cx + reach * math.cos(a - da), cy + reach * math.sin(a - da)),
                (cx + reach * math.cos(a + da), cy + reach * math.sin(a + da)),
            ],
            fill=colour,
        )


def cross_hatch(
    cv: Canvas, box: Box, colour: RGB, period: float, layers: int, mask: np.ndarray | None = None
) -> None:
    """``layers`` sets of thin parallel lines at different angles (engraving-style shading)."""
    base = cv.rng.uniform(0, 180)
    for k in range(layers):
        tone(
            cv,
            box,
            colour,
            period * cv.rng.uniform(0.8, 1.25),
            base + k * cv.rng.uniform(35, 75),
            cv.rng.uniform(0.12, 0.25),
            mask,
            kind="lines",
        )


def vertical_text(
    cv: Canvas, box: Box, colour: RGB, size: float, weight: int = 500, columns: int | None = None
) -> None:
    """Japanese set vertically in ``box``: columns read top to bottom, right to left."""
    f = cjk_font(int(size), weight)
    step = size * 1.05
    n_cols = columns or max(1, int((box[2] - box[0]) / (size * 1.3)))
    per_col = max(1, int((box[3] - box[1]) / step))
    x = box[2] - size * 1.1
    for _ in range(n_cols):
        if x < box[0]:
            break
        text = cjk_phrase(cv, cv.rng.randrange(max(1, per_col // 2), per_col + 1))
        for i, ch in enumerate(text):
            cv.draw.text((x, box[1] + i * step), ch, font=f, fill=colour)
        x -= size * 1.3


def horizontal_text(
    cv: Canvas, box: Box, colour: RGB, size: float, weight: int = 400, lines: int | None = None
) -> None:
    """Lines of Japanese set horizontally in ``box``, left to right."""
    f = cjk_font(int(size), weight)
    per_line = max(1, int((box[2] - box[0]) / (size * 1.02)))
    n = lines or max(1, int((box[3] - box[1]) / (size * 1.4)))
    for k in range(n):
        text = cjk_phrase(cv, cv.rng.randrange(max(1, per_line // 2), per_line + 1))
        cv.draw.text((box[0], box[1] + k * size * 1.4), text, font=f, fill=colour)


def title(
    cv: Canvas,
    origin: Point,
    text: str,
    size: float,
    fill: RGB,
    edges: Sequence[tuple[float, RGB]],
    vertical: bool = False,
    weight: int = 900,
) -> Box:
    """Display lettering with one or more outlines (outermost first), as on a manga cover;
    returns the box it covers."""
    f = cjk_font(int(size), weight)
    x, y = origin
    step = size * 1.02
    chars = list(text) if vertical else [text]
    for width, colour in [*edges, (0.0, fill)]:
        sw = int(width)
        for i, part in enumerate(chars):
            pos = (x, y + i * step) if vertical else (x, y)
            cv.draw.text(pos, part, font=f, fill=colour, stroke_width=sw, stroke_fill=colour)
    pad = max((w for w, _ in edges), default=0)
    if vertical:
        return (int(x - pad), int(y - pad), int(x + size + pad), int(y + len(chars) * step + pad))
    right = x + f.getlength(text)
    return (int(x - pad), int(y - pad), int(right + pad), int(y + size * 1.3 + pad))


def sparkles(cv: Canvas, box: Box, colour: RGB, count: int) -> None:
    """Four-pointed star glints of many sizes (shoujo backgrounds, highlights on covers)."""
    x0, y0, x1, y1 = box
    for _ in range(count):
        cx, cy = cv.rng.uniform(x0, x1), cv.rng.uniform(y0, y1)
        r = cv.u * cv.rng.choice([1.0, 1.5, 2.5, 4.0, 7.0])
        k = r * 0.18
        cv.draw.polygon(
            [
                (cx, cy - r),
                (cx + k, cy - k),
                (cx + r, cy),
                (cx + k, cy + k),
                (cx, cy + r),
                (cx - k, cy + k),
                (cx - r, cy),
                (cx - k, cy - k),
            ],
            fill=colour,
        )
