"""Text pages: newspaper and manuscript columns of many sizes."""

from __future__ import annotations

from gasr_hf.generate.procedural.canvas import Box, Canvas


def layout_textpage(cv: Canvas, box: Box, scene: str) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    paper = cv.palette.paper if sum(cv.palette.paper) > 380 else (240, 236, 226)
    ink = cv.palette.ink if sum(cv.palette.ink) < 380 else (20, 20, 20)
    cv.draw.rectangle(box, fill=paper)
    mast = (x0 + int(0.04 * w), y0 + int(0.02 * h), x1 - int(0.04 * w), y0 + int(0.13 * h))
    cv.text_in(
        mast,
        "The " + cv.phrase(2).title(),
        ink,
        cv.rng.choice(["stix-bold", "serif-bold", "stix-italic"]),
    )
    lw = max(1, int(0.8 * cv.u))
    cv.draw.line((mast[0], mast[3] + 2 * cv.u, mast[2], mast[3] + 2 * cv.u), fill=ink, width=lw * 2)
    cv.text_in(
        (mast[0], mast[3] + 3 * cv.u, mast[2], mast[3] + 8 * cv.u),
        f"{cv.number()}   {cv.phrase(3).upper()}   {cv.number()}",
        ink,
        "serif",
        max_size=5 * cv.u,
    )
    cv.draw.line((mast[0], mast[3] + 9 * cv.u, mast[2], mast[3] + 9 * cv.u), fill=ink, width=lw)
    top = int(mast[3] + 12 * cv.u)
    cols = cv.rng.randrange(2, 6)
    colw = (mast[2] - mast[0]) / cols
    size = cv.rng.uniform(2.6, 4.2) * cv.u
    for c in range(cols):
        cx0, cx1 = int(mast[0] + c * colw + 2 * cv.u), int(mast[0] + (c + 1) * colw - 2 * cv.u)
        y = top
        while y < y1 - 0.04 * h:
            y_before = y
            block = cv.rng.randrange(4)
            if block == 0:
                hh = int(cv.rng.uniform(8, 16) * cv.u)
                cv.text_in(
                    (cx0, y, cx1, y + hh),
                    cv.phrase(cv.rng.randrange(2, 4)).title(),
                    ink,
                    cv.rng.choice(["serif-bold", "stix-bold", "sans-bold"]),
                    align="left",
                )
                y += hh + int(2 * cv.u)
            elif block == 1 and cx1 - cx0 > 30 * cv.u:
                ph = int(cv.rng.uniform(0.1, 0.25) * h)
                photo = (cx0, y, cx1, min(int(y1 - 0.04 * h), y + ph))
                if photo[3] - photo[1] > 10 * cv.u:
                    cv.draw.rectangle(photo, fill=paper)
                    cv.halftone(
                        photo,
                        ink,
                        cell=cv.rng.uniform(2, 3.5) * cv.u,
                        field=cv.rng.choice(["linear", "radial"]),
                    )
                    cv.draw.rectangle(photo, outline=ink, width=lw)
                y += ph + int(3 * cv.u)
            else:
                bh = int(cv.rng.uniform(0.08, 0.25) * h)
                cv.paragraph(
                    (cx0, y, cx1, min(int(y1 - 0.04 * h), y + bh)),
                    ink,
                    size,
                    cv.rng.choice(["serif", "stix", "sans"]),
                )
                y += bh + int(2 * cv.u)
            y = max(y, y_before + 2)
        if c:
            cv.draw.line((cx0 - 2 * cv.u, top, cx0 - 2 * cv.u, y1 - 0.04 * h), fill=ink, width=lw)
