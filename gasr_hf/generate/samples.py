"""A captioned grid of generated images, for the README and a quick look at a run."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    import datasets


CAPTION_COLUMNS = ("style", "components", "source", "file_name")
"""Caption parts, where present: generated rows have style and components, ingested ones a
source and a file name."""


def _first_rows(source: str | Path | datasets.Dataset, n: int) -> list[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for the first ``n`` rows, reading only as many Parquet record batches as
    needed; ``where`` names the file and row for error messages."""
    if not isinstance(source, (str, Path)):
        if "image" not in source.column_names:
            raise ValueError(f"the dataset has no 'image' column (columns: {source.column_names})")
        columns = ["image", *(c for c in CAPTION_COLUMNS if c in source.column_names)]
        rows = (
            source.select_columns(columns)
            .cast_column("image", _undecoded())
            .select(range(min(n, len(source))))
            .to_list()
        )
        return [(f"row {k}", row) for k, row in enumerate(rows)]
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(source)
    files = [path] if path.is_file() else sorted(path.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no Parquet shards in {path}")
    rows: list[tuple[str, dict[str, Any]]] = []
    for file in files:
        try:
            parquet = pq.ParquetFile(file)
            names = parquet.schema_arrow.names
            if "image" not in names:
                raise ValueError(f"{file}: no 'image' column (columns: {names})")
            columns = ["image", *(c for c in CAPTION_COLUMNS if c in names)]
            in_file = 0
            for batch in parquet.iter_batches(batch_size=max(n, 1), columns=columns):
                for row in batch.to_pylist():
                    rows.append((f"{file} row {in_file}", row))
                    in_file += 1
                if len(rows) >= n:
                    return rows[:n]
        except (OSError, pa.ArrowException) as err:
            raise ValueError(f"{file}: unreadable Parquet shard ({err})") from err
    return rows


def _caption(row: dict[str, Any]) -> str:
    parts = []
    for column in CAPTION_COLUMNS[:2] if row.get("style") else CAPTION_COLUMNS[2:]:
        value = row.get(column)
        if isinstance(value, list):
            value = " + ".join(str(v) for v in value)
        if value:
            parts.append(str(value))
    return " | ".join(parts)


def _decode(where: str, value: dict[str, Any] | None) -> Image.Image:
    data = (value or {}).get("bytes")
    if not data:
        raise ValueError(f"{where}: the image has no embedded bytes")
    try:
        image = Image.open(io.BytesIO(data))
        return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"{where}: undecodable image ({err})") from err


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

    Each tile is a Lanczos-downscaled image; with ``captions`` the style and components (ingested
    images: the source and file name) are printed under it.
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
    for k, (where, row) in enumerate(rows):
        image = _decode(where, row["image"])
        image.thumbnail((tile, tile), Image.Resampling.LANCZOS)
        x = pad + (k % columns) * (tile + pad)
        y = pad + (k // columns) * (tile + caption_h + pad)
        grid.paste(image, (x, y))
        if captions:
            lines = textwrap.wrap(_caption(row), width=tile // 6)[:2]
            for j, line in enumerate(lines):
                draw.text((x + 2, y + tile + 3 + 14 * j), line, font=small, fill=(30, 30, 30))
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out_png)
    return out_png
