"""A captioned grid of generated images, for the README and a quick look at a run."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    import datasets


def _first_rows(source: str | Path | datasets.Dataset, n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows, reading only as many Parquet record batches as needed."""
    columns = ["image", "style", "components"]
    if not isinstance(source, (str, Path)):
        return (
            source.select_columns(columns)
            .cast_column("image", _undecoded())
            .select(range(min(n, len(source))))
            .to_list()
        )
    import pyarrow.parquet as pq

    path = Path(source)
    files = [path] if path.is_file() else sorted(path.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no Parquet shards in {path}")
    rows: list[dict[str, Any]] = []
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=max(n, 1), columns=columns):
            rows.extend(batch.to_pylist())
            if len(rows) >= n:
                return rows[:n]
    return rows


def _undecoded() -> Any:
    import datasets

    return datasets.Image(decode=False)


def make_sample_grid(
    source: str | Path | datasets.Dataset,
    out_png: str | Path,
    *,
    n: int = 16,
    columns: int = 4,
    tile: int = 256,
    captions: bool = True,
) -> Path:
    """Save the first ``n`` images of a generated dataset (or shard folder) as one PNG grid.

    Each tile is a Lanczos-downscaled image; with ``captions`` the style and components are
    printed under it.
    """
    from gasr_hf.generate.procedural import font

    if n < 1 or columns < 1 or tile < 32:
        raise ValueError(f"need n >= 1, columns >= 1 and tile >= 32, got {n}, {columns}, {tile}")
    rows = _first_rows(source, n)
    if not rows:
        raise ValueError(f"{source}: no generated images to show")
    caption_h = 34 if captions else 0
    pad = 4
    grid_rows = -(-len(rows) // columns)
    grid = Image.new(
        "RGB",
        (columns * (tile + pad) + pad, grid_rows * (tile + caption_h + pad) + pad),
        "white",
    )
    draw = ImageDraw.Draw(grid)
    small = font("sans", 10)
    for k, row in enumerate(rows):
        image = Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB")
        image.thumbnail((tile, tile), Image.Resampling.LANCZOS)
        x = pad + (k % columns) * (tile + pad)
        y = pad + (k // columns) * (tile + caption_h + pad)
        grid.paste(image, (x, y))
        if captions:
            text = f"{row['style']} | {' + '.join(row['components'])}"
            lines = textwrap.wrap(text, width=tile // 6)[:2]
            for j, line in enumerate(lines):
                draw.text((x + 2, y + tile + 3 + 14 * j), line, font=small, fill=(30, 30, 30))
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out_png)
    return out_png
