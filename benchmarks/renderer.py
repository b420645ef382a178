"""Procedural renderer speed: seconds per 1024x1024 image, this tree's renderer package against
the single-module renderer of an earlier commit (read with ``git show``), on the same corpus rows,
in one process, one image at a time, interleaved so that machine load hits both alike.

Prints the mean over all rows (the figure the renderer's budget is stated in: within 1.5x of the
old renderer) and the mean per layout family of the new renderer.

    python benchmarks/renderer.py [--rows 90] [--baseline 999524a]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OLD_PATH = "gasr_hf/generate/procedural.py"


def _old_renderer(rev: str):  # noqa: ANN202 - a module object
    source = subprocess.run(
        ["git", "show", f"{rev}:{OLD_PATH}"], check=True, capture_output=True, text=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="gasr-renderer-"))
    path = folder / "procedural_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("procedural_old", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["procedural_old"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=90, help="corpus rows (default 90)")
    parser.add_argument("--baseline", default="999524a", help="commit of the old renderer")
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()

    from gasr_hf.generate.procedural import render_artwork
    from gasr_hf.generate.procedural.registry import LAYOUT_KEYWORDS, LAYOUTS, pick_by_keywords
    from gasr_hf.prompts import build_prompts

    old = _old_renderer(args.baseline)
    rows = build_prompts("artwork", args.rows, seed=0).to_list()
    for render in (old.render_artwork, render_artwork):  # warm the font caches
        render(rows[0], args.size, args.size)
    times: dict[str, list[float]] = {"old": [], "new": []}
    families: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        for name, render in (("old", old.render_artwork), ("new", render_artwork)):
            start = time.perf_counter()
            render(row, args.size, args.size)
            times[name].append(time.perf_counter() - start)
        # The family the new renderer drew: its keyword table, or the row's own random draw.
        family = pick_by_keywords(
            str(row["components"][0]), LAYOUT_KEYWORDS, random.Random(0), ["(random pick)"]
        )
        families[family if family in LAYOUTS else "(random pick)"].append(times["new"][-1])
    old_mean, new_mean = statistics.mean(times["old"]), statistics.mean(times["new"])
    print(f"\nrenderer speed, {args.size}x{args.size}, {len(rows)} rows of the artwork corpus")
    print(f"{'renderer':<34}{'s/img (mean)':>14}{'s/img (median)':>16}{'vs old':>8}")
    for label, values in (
        (f"old single module ({args.baseline})", times["old"]),
        ("new package (this tree)", times["new"]),
    ):
        print(
            f"{label:<34}{statistics.mean(values):>14.3f}{statistics.median(values):>16.3f}"
            f"{statistics.mean(values) / old_mean:>7.2f}x"
        )
    print(
        f"\nnew renderer by layout family (first component's keywords), ratio {new_mean / old_mean:.2f}x"
    )
    print(f"{'family':<16}{'rows':>6}{'s/img':>8}")
    for family, values in sorted(families.items(), key=lambda kv: -len(kv[1])):
        print(f"{family:<16}{len(values):>6}{statistics.mean(values):>8.3f}")


if __name__ == "__main__":
    main()
