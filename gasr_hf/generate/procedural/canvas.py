"""The drawing surface: a PIL image with the row's random stream, palette, text and fill primitives."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gasr_hf.generate.procedural.fonts import font
from gasr_hf.generate.procedural.palettes import RGB, Palette

Box = tuple[int, int, int, int]

WORDS = (
    "GRAND OPENING TONIGHT LIVE SPECIAL EDITION NEW FREE SALE EXPRESS ROYAL DELUXE CLUB SUPER "
    "ORIGINAL PREMIUM CITY NIGHT GOLDEN FESTIVAL SHOW VOL NO ISSUE EXTRA LIMITED ONLY CLASSIC"
).split()


class Canvas:
    """A PIL image with the row's random stream, palette and drawing helpers in canvas pixels."""

    def __init__(
        self, width: int, height: int, palette: Palette, rng: random.Random, words: list[str]
    ):
        self.image = Image.new("RGB", (width, height), palette.paper)
        self.draw = ImageDraw.Draw(self.image)
        self.palette = palette
        self.rng = rng
        self.np_rng = np.random.default_rng(rng.getrandbits(64))
        self.words = words
        self.u = min(width, height) / 256
        self.width, self.height = width, height

    @contextmanager
    def clip(self, box: Box) -> Iterator[None]:
        """Keep only what is drawn inside ``box`` during the block (PIL's draw has no clip path)."""
        before = self.image.copy()
        yield
        before.paste(self.image.crop(box), box[:2])
        self.image = before
        self.draw = ImageDraw.Draw(before)

    # ---- colours and text content
    def colour(self, avoid: RGB | None = None) -> RGB:
        choices = [c for c in self.palette.colours if c != avoid] or list(self.palette.colours)
        return self.rng.choice(choices)

    def contrast(self, background: RGB) -> RGB:
        """Paper or ink, whichever stands out more against ``background``."""
        luminance = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
        paper, ink = self.palette.paper, self.palette.ink
        lp = 0.299 * paper[0] + 0.587 * paper[1] + 0.114 * paper[2]
        li = 0.299 * ink[0] + 0.587 * ink[1] + 0.114 * ink[2]
        return paper if abs(lp - luminance) > abs(li - luminance) else ink

    def phrase(self, n_words: int) -> str:
        pool = self.words + WORDS
        return " ".join(self.rng.choice(pool) for _ in range(n_words))

    def sentence(self, n_words: int) -> str:
        pool = [w.lower() for w in self.words] + [w.lower() for w in WORDS]
        return " ".join(self.rng.choice(pool) for _ in range(n_words)).capitalize() + "."

    def number(self) -> str:
        kind = self.rng.randrange(5)
        if kind == 0:
            return f"${self.rng.randrange(1, 99)}.{self.rng.randrange(100):02d}"
        if kind == 1:
            return f"{self.rng.randrange(1, 31):02d}.{self.rng.randrange(1, 13):02d}.{self.rng.randrange(1950, 2030)}"
        if kind == 2:
            return f"No. {self.rng.randrange(1, 999)}"
        if kind == 3:
            return f"{self.rng.randrange(10, 99)}%"
        return f"{self.rng.randrange(1, 24):02d}:{self.rng.choice(['00', '15', '30', '45'])}"

    # ---- text
    def fit_font(
        self, name: str, text: str, box: Box, max_size: float | None = None
    ) -> ImageFont.FreeTypeFont:
        """The largest ``name`` font at which ``text`` fits in ``box`` on one line."""
        w, h = box[2] - box[0], box[3] - box[1]
        hi = int(max_size or h)
        lo = 4
        probe = font(name, 100)
        left, top, right, bottom = probe.getbbox(text)
        scale = min(w / max(right - left, 1), h / max(bottom - top, 1))
        size = max(lo, min(hi, int(100 * scale)))
        return font(name, size)

    def text_in(
        self,
        box: Box,
        text: str,
        fill: RGB,
        name: str = "sans-bold",
        align: str = "center",
        max_size: float | None = None,
        stroke: tuple[int, RGB] | None = None,
    ) -> None:
        f = self.fit_font(name, text, box, max_size)
        left, top, right, bottom = f.getbbox(text)
        tw, th = right - left, bottom - top
        if align == "center":
            x = box[0] + (box[2] - box[0] - tw) / 2 - left
        elif align == "right":
            x = box[2] - tw - left
        else:
            x = box[0] - left
        y = box[1] + (box[3] - box[1] - th) / 2 - top
        kwargs = {"stroke_width": stroke[0], "stroke_fill": stroke[1]} if stroke else {}
        self.draw.text((x, y), text, font=f, fill=fill, **kwargs)

    def paragraph(
        self, box: Box, fill: RGB, size: float, name: str = "serif", justify: bool = False
    ) -> None:
        """Fill ``box`` with wrapped lines of row-derived words at ``size`` pixels."""
        f = font(name, size)
        line_h = max(2, int(f.size * 1.25))
        y = box[1]
        width = box[2] - box[0]
        while y + line_h <= box[3]:
            line = self.sentence(self.rng.randrange(6, 14))
            while f.getlength(line) > width and " " in line:
                line = line.rsplit(" ", 1)[0]
            if self.rng.random() < 0.12:
                line = line[: max(3, len(line) // 2)]
            self.draw.text((box[0], y), line, font=f, fill=fill)
            y += line_h

    def rotated_text(
        self,
        centre: tuple[float, float],
        text: str,
        size: float,
        fill: RGB,
        angle: float,
        name: str = "sans-bold",
        outline: RGB | None = None,
    ) -> None:
        f = font(name, size)
        left, top, right, bottom = f.getbbox(text, stroke_width=int(size / 12))
        tile = Image.new("L", (right - left + 8, bottom - top + 8), 0)
        ImageDraw.Draw(tile).text(
            (4 - left, 4 - top),
            text,
            font=f,
            fill=255,
            stroke_width=int(size / 12) if outline else 0,
            stroke_fill=128,
        )
        tile = tile.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
        x = int(centre[0] - tile.width / 2)
        y = int(centre[1] - tile.height / 2)
        if outline:
            edge = tile.point(lambda v: 255 if v > 0 else 0)
            self.image.paste(outline, (x, y), edge)
        body = tile.point(lambda v: 255 if v > 200 else (0 if v < 100 else v))
        self.image.paste(fill, (x, y), body)

    # ---- fills and patterns
    def pixel_grid(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """The pixel coordinates of ``box`` as float32 x (1 x width) and y (height x 1), which
        broadcast to the box's grid: arithmetic on them gives what full grids would, element by
        element, without building two full-size arrays first."""
        xs = np.arange(box[0], box[2], dtype=np.float32)[None, :]
        ys = np.arange(box[1], box[3], dtype=np.float32)[:, None]
        return xs, ys

    def mask_fill(self, box: Box, mask: np.ndarray, colour: RGB) -> None:
        self.image.paste(colour, box[:2], Image.fromarray(mask.astype(np.uint8) * 255, "L"))

    def gradient(self, box: Box, c1: RGB, c2: RGB, kind: str = "linear", levels: int = 0) -> None:
        xs, ys = self.pixel_grid(box)
        w, h = max(box[2] - box[0], 1), max(box[3] - box[1], 1)
        if kind == "radial":
            cx, cy = (
                box[0] + w * self.rng.uniform(0.3, 0.7),
                box[1] + h * self.rng.uniform(0.3, 0.7),
            )
            t = np.hypot(xs - cx, ys - cy) / (0.75 * math.hypot(w, h))
        else:
            angle = self.rng.uniform(0, math.pi)
            t = ((xs - box[0]) * math.cos(angle) + (ys - box[1]) * math.sin(angle)) / (
                abs(w * math.cos(angle)) + abs(h * math.sin(angle))
            )
            t = t - t.min()
        t = np.clip(t, 0, 1)
        if levels:
            t = np.floor(t * levels) / max(levels - 1, 1)
            t = np.clip(t, 0, 1)
        a, b = np.array(c1, np.float32), np.array(c2, np.float32)
        rgb = a + (b - a) * t[..., None]
        self.image.paste(Image.fromarray(rgb.astype(np.uint8), "RGB"), box[:2])

    def halftone(
        self,
        box: Box,
        colour: RGB,
        cell: float,
        field: str = "flat",
        level: float = 0.5,
        angle: float = 45.0,
    ) -> None:
        """Dots on a rotated grid; radius from a flat, linear or radial tone field (screentone)."""
        xs, ys = self.pixel_grid(box)
        a = math.radians(angle)
        u = xs * math.cos(a) + ys * math.sin(a)
        v = -xs * math.sin(a) + ys * math.cos(a)
        du = (u / cell) % 1.0 - 0.5
        dv = (v / cell) % 1.0 - 0.5
        dist = np.hypot(du, dv)
        w, h = max(box[2] - box[0], 1), max(box[3] - box[1], 1)
        if field == "linear":
            tone = np.clip((ys - box[1]) / h, 0, 1) * 0.9 + 0.05
        elif field == "radial":
            tone = np.clip(
                1 - np.hypot(xs - box[0] - w / 2, ys - box[1] - h / 2) / (0.6 * max(w, h)), 0, 1
            )
        else:
            tone = np.float32(level)
        self.mask_fill(box, dist < np.sqrt(tone) * 0.56, colour)

    def hatch(self, box: Box, colour: RGB, period: float, width: float, angle: float) -> None:
        xs, ys = self.pixel_grid(box)
        a = math.radians(angle)
        t = xs * math.cos(a) + ys * math.sin(a)
        self.mask_fill(box, (t % period) < width, colour)

    def checker(self, box: Box, colour: RGB, cell: float) -> None:
        xs, ys = self.pixel_grid(box)
        self.mask_fill(box, ((xs // cell + ys // cell) % 2) == 0, colour)

    def background(self, box: Box) -> RGB:
        """A flat, gradient, halftone or hatched ground for ``box``; returns its main colour."""
        kind = self.rng.randrange(5)
        base = self.colour()
        if kind == 0:
            self.draw.rectangle(box, fill=base)
        elif kind == 1:
            self.gradient(
                box,
                base,
                self.colour(avoid=base),
                self.rng.choice(["linear", "radial"]),
                levels=self.rng.choice([0, 0, 5, 8]),
            )
        elif kind == 2:
            self.draw.rectangle(box, fill=self.palette.paper)
            self.halftone(
                box,
                base,
                cell=self.rng.uniform(4, 9) * self.u,
                field=self.rng.choice(["linear", "radial", "flat"]),
            )
            return self.palette.paper
        elif kind == 3:
            self.draw.rectangle(box, fill=base)
            self.hatch(
                box,
                self.colour(avoid=base),
                period=self.rng.uniform(3, 8) * self.u,
                width=self.rng.uniform(1, 2.5) * self.u,
                angle=self.rng.choice([0, 45, 90, 135, 30]),
            )
        else:
            self.draw.rectangle(box, fill=self.palette.paper)
            return self.palette.paper
        return base

    # ---- line art
    def frame(self, box: Box, colour: RGB, kind: int | None = None) -> None:
        kind = self.rng.randrange(4) if kind is None else kind
        w = max(1, int(self.rng.uniform(0.8, 2.5) * self.u))
        self.draw.rectangle(box, outline=colour, width=w)
        if kind >= 1:
            g = int(3 * self.u)
            inner = (box[0] + g, box[1] + g, box[2] - g, box[3] - g)
            self.draw.rectangle(inner, outline=colour, width=max(1, w // 2))
        if kind >= 2:
            s = int(5 * self.u)
            for x, y in (
                (box[0], box[1]),
                (box[2] - s, box[1]),
                (box[0], box[3] - s),
                (box[2] - s, box[3] - s),
            ):
                self.draw.rectangle((x, y, x + s, y + s), fill=colour)
        if kind == 3:
            step = max(2, int(6 * self.u))
            for x in range(box[0] + step * 2, box[2] - step * 2, step):
                self.draw.ellipse(
                    (x - self.u, box[1] + 1.2 * self.u, x + self.u, box[1] + 3.2 * self.u),
                    fill=colour,
                )
                self.draw.ellipse(
                    (x - self.u, box[3] - 3.2 * self.u, x + self.u, box[3] - 1.2 * self.u),
                    fill=colour,
                )

    def scene(self, box: Box, kind: str) -> None:
        """Flat-colour line-art scenery filling ``box``: skyline, sea, space, mountains or abstract."""
        with self.clip(box):
            self._scene(box, kind)

    def _scene(self, box: Box, kind: str) -> None:
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        ink = self.palette.ink
        lw = max(1, int(1.2 * self.u))
        if kind in ("skyline", "mountains", "sea"):
            sun = self.colour()
            r = self.rng.uniform(0.12, 0.25) * w
            cx, cy = x0 + self.rng.uniform(0.25, 0.75) * w, y0 + self.rng.uniform(0.25, 0.45) * h
            for i in range(self.rng.randrange(0, 3)):
                rr = r * (1.35 + 0.3 * i)
                self.draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=sun, width=lw * 2)
            self.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=sun, outline=ink, width=lw)
            for k in range(self.rng.randrange(3, 7)):
                yy = cy - r * 0.2 + k * r * 0.28
                if yy < cy + r:
                    self.draw.rectangle(
                        (cx - r, yy, cx + r, yy + r * 0.08), fill=self.palette.paper
                    )
        if kind == "skyline":
            x = x0
            base = y1
            while x < x1:
                bw = self.rng.uniform(0.06, 0.16) * w
                bh = self.rng.uniform(0.2, 0.65) * h
                colour = self.colour()
                self.draw.rectangle(
                    (x, base - bh, x + bw, base), fill=colour, outline=ink, width=lw
                )
                win = self.contrast(colour)
                step = max(3 * self.u, bw / 6)
                for wy in np.arange(base - bh + step, base - step, step * 1.3):
                    for wx in np.arange(x + step * 0.6, x + bw - step * 0.8, step):
                        if self.rng.random() < 0.7:
                            self.draw.rectangle(
                                (wx, wy, wx + step * 0.5, wy + step * 0.6), fill=win
                            )
                if self.rng.random() < 0.3:
                    self.draw.line(
                        (x + bw / 2, base - bh, x + bw / 2, base - bh - 0.08 * h),
                        fill=ink,
                        width=lw,
                    )
                x += bw + self.rng.uniform(0, 0.02) * w
        elif kind == "mountains":
            for layer in range(3):
                top = y0 + h * (0.35 + 0.15 * layer)
                pts = [(x0, y1)]
                x = x0
                while x < x1:
                    pts.append((x, top + self.rng.uniform(-0.15, 0.12) * h))
                    x += self.rng.uniform(0.08, 0.2) * w
                pts += [(x1, top), (x1, y1)]
                self.draw.polygon(pts, fill=self.colour(), outline=ink, width=lw)
        elif kind == "sea":
            horizon = y0 + h * 0.55
            for i in range(9):
                yy = horizon + i * h * 0.05
                colour = self.palette.colours[i % len(self.palette.colours)]
                pts = [
                    (x, yy + math.sin(x / (w * 0.05) + i) * h * 0.015)
                    for x in np.linspace(x0, x1, 60)
                ]
                self.draw.polygon(pts + [(x1, y1), (x0, y1)], fill=colour)
                self.draw.line(pts, fill=ink, width=lw)
            hx = x0 + self.rng.uniform(0.2, 0.6) * w
            self.draw.polygon(
                [
                    (hx, horizon - h * 0.02),
                    (hx + w * 0.3, horizon - h * 0.02),
                    (hx + w * 0.25, horizon + h * 0.06),
                    (hx + w * 0.05, horizon + h * 0.06),
                ],
                fill=self.colour(),
                outline=ink,
                width=lw,
            )
            self.draw.polygon(
                [
                    (hx + w * 0.14, horizon - h * 0.3),
                    (hx + w * 0.14, horizon - h * 0.04),
                    (hx + w * 0.28, horizon - h * 0.04),
                ],
                fill=self.palette.paper,
                outline=ink,
                width=lw,
            )
        elif kind == "space":
            self.draw.rectangle(
                box, fill=self.palette.ink if sum(self.palette.paper) > 380 else self.palette.paper
            )
            star = (
                self.contrast(self.palette.ink)
                if sum(self.palette.paper) > 380
                else self.palette.ink
            )
            for _ in range(int(60 + w * h / (self.u * self.u * 120))):
                sx, sy = x0 + self.rng.random() * w, y0 + self.rng.random() * h
                s = self.rng.choice([0.4, 0.6, 1.0, 1.6]) * self.u
                self.draw.ellipse((sx - s, sy - s, sx + s, sy + s), fill=star)
            r = self.rng.uniform(0.15, 0.3) * min(w, h)
            cx, cy = x0 + self.rng.uniform(0.3, 0.7) * w, y0 + self.rng.uniform(0.3, 0.7) * h
            planet = (int(cx - r), int(cy - r), int(cx + r), int(cy + r))
            self.draw.ellipse(planet, fill=self.colour())
            self.draw.ellipse(
                (cx - r * 1.8, cy - r * 0.35, cx + r * 1.8, cy + r * 0.35),
                outline=self.colour(),
                width=lw * 3,
            )
        else:
            self._abstract(box)

    def abstract(self, box: Box) -> None:
        with self.clip(box):
            self._abstract(box)

    def _abstract(self, box: Box) -> None:
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        ink = self.palette.ink
        lw = max(1, int(1.2 * self.u))
        for _ in range(self.rng.randrange(5, 11)):
            kind = self.rng.randrange(5)
            cx, cy = x0 + self.rng.random() * w, y0 + self.rng.random() * h
            s = self.rng.uniform(0.08, 0.3) * min(w, h)
            colour = self.colour()
            if kind == 0:
                self.draw.ellipse(
                    (cx - s, cy - s, cx + s, cy + s), fill=colour, outline=ink, width=lw
                )
            elif kind == 1:
                self.draw.rectangle(
                    (cx - s, cy - s * 0.6, cx + s, cy + s * 0.6), fill=colour, outline=ink, width=lw
                )
            elif kind == 2:
                self.draw.polygon(
                    [(cx, cy - s), (cx + s, cy + s), (cx - s, cy + s)],
                    fill=colour,
                    outline=ink,
                    width=lw,
                )
            elif kind == 3:
                for i in range(5):
                    rr = s * (1 - i * 0.18)
                    self.draw.ellipse(
                        (cx - rr, cy - rr, cx + rr, cy + rr),
                        outline=colour if i % 2 else ink,
                        width=lw * 2,
                    )
            else:
                self.draw.line(
                    [(cx - s, cy), (cx + s, cy + s * self.rng.uniform(-1, 1))],
                    fill=colour,
                    width=lw * 4,
                )

    def burst(self, box: Box, colour: RGB, rays: int = 48) -> None:
        """Speed lines / sun rays converging on a focus inside ``box``."""
        with self.clip(box):
            self._burst(box, colour, rays)

    def _burst(self, box: Box, colour: RGB, rays: int) -> None:
        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2 + self.rng.uniform(-0.2, 0.2) * (x1 - x0), (y0 + y1) / 2
        reach = math.hypot(x1 - x0, y1 - y0)
        for i in range(rays):
            a = 2 * math.pi * i / rays + self.rng.uniform(-0.03, 0.03)
            da = self.rng.uniform(0.005, 0.03)
            inner = self.rng.uniform(0.12, 0.3) * reach
            pts = [
                (cx + inner * math.cos(a), cy + inner * math.sin(a)),
                (cx + reach * math.cos(a - da), cy + reach * math.sin(a - da)),
                (cx + reach * math.cos(a + da), cy + reach * math.sin(a + da)),
            ]
            self.draw.polygon(pts, fill=colour)

    def bubble(self, box: Box, text: str) -> None:
        x0, y0, x1, y1 = box
        ink = self.palette.ink
        lw = max(1, int(1.2 * self.u))
        tail = (x0 + (x1 - x0) * self.rng.uniform(0.2, 0.8), y1 + (y1 - y0) * 0.5)
        mid = (x0 + x1) / 2
        self.draw.polygon(
            [(mid - (x1 - x0) * 0.1, y1 - 2 * lw), (mid + (x1 - x0) * 0.1, y1 - 2 * lw), tail],
            fill=(255, 255, 255),
            outline=ink,
            width=lw,
        )
        self.draw.ellipse(box, fill=(255, 255, 255), outline=ink, width=lw)
        lines = [self.phrase(self.rng.randrange(1, 3)) for _ in range(self.rng.randrange(1, 4))]
        pad_x, pad_y = (x1 - x0) * 0.18, (y1 - y0) * 0.22
        line_h = (y1 - y0 - 2 * pad_y) / len(lines)
        for i, line in enumerate(lines):
            y = y0 + pad_y + i * line_h
            self.text_in(
                (int(x0 + pad_x), int(y), int(x1 - pad_x), int(y + line_h * 0.9)),
                line,
                ink,
                "sans-bold",
                max_size=line_h,
            )

    def barcode(self, box: Box, colour: RGB) -> None:
        x = box[0]
        while x < box[2]:
            bar = self.rng.choice([1, 1, 2, 3]) * max(1, self.u * 0.7)
            if self.rng.random() < 0.55:
                self.draw.rectangle((x, box[1], min(x + bar, box[2]), box[3]), fill=colour)
            x += bar

    def code_grid(self, box: Box, colour: RGB) -> None:
        """A QR-like grid of modules with three finder squares."""
        n = 25
        cell = (box[2] - box[0]) / n
        bits = self.np_rng.random((n, n)) < 0.5
        for fy, fx in ((0, 0), (0, n - 7), (n - 7, 0)):
            bits[fy : fy + 7, fx : fx + 7] = False
            bits[fy, fx : fx + 7] = bits[fy + 6, fx : fx + 7] = True
            bits[fy : fy + 7, fx] = bits[fy : fy + 7, fx + 6] = True
            bits[fy + 2 : fy + 5, fx + 2 : fx + 5] = True
        for j, i in np.argwhere(bits):
            self.draw.rectangle(
                (
                    box[0] + i * cell,
                    box[1] + j * cell,
                    box[0] + (i + 1) * cell,
                    box[1] + (j + 1) * cell,
                ),
                fill=colour,
            )


def inset_box(box: Box, frac: float) -> Box:
    dx, dy = int((box[2] - box[0]) * frac), int((box[3] - box[1]) * frac)
    return (box[0] + dx, box[1] + dy, box[2] - dx, box[3] - dy)


def grow_box(box: Box, d: float) -> Box:
    return (int(box[0] - d), int(box[1] - d), int(box[2] + d), int(box[3] + d))


def arrow(cv: Canvas, box: Box, colour: RGB, angle: float) -> None:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    s = min(box[2] - box[0], box[3] - box[1]) / 2
    shape = [
        (-1, -0.25),
        (0.15, -0.25),
        (0.15, -0.65),
        (1, 0),
        (0.15, 0.65),
        (0.15, 0.25),
        (-1, 0.25),
    ]
    a = math.radians(angle)
    pts = [
        (cx + s * (x * math.cos(a) - y * math.sin(a)), cy + s * (x * math.sin(a) + y * math.cos(a)))
        for x, y in shape
    ]
    cv.draw.polygon(pts, fill=colour)
