"""Small file helpers every stage shares: atomic writes, digests, PNG bytes, Parquet listings."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

from PIL import Image

_READ_BLOCK = 1 << 22


def write_text_atomic(path: str | Path, text: str, *, tmp_tag: str = "") -> Path:
    """Write ``text`` to a hidden temporary file beside ``path``, then rename it over ``path``: a reader
    sees the old file or the new one, never half of one. ``tmp_tag`` keeps concurrent writers (ranks)
    from sharing a temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{'.' + tmp_tag if tmp_tag else ''}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_json_atomic(path: str | Path, data: Any, *, tmp_tag: str = "") -> Path:
    """:func:`write_text_atomic` of ``data`` as indented JSON (paths and other objects as strings)."""
    return write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n", tmp_tag=tmp_tag)


def json_digest(value: Any) -> str:
    """A short, stable digest of JSON-ready settings (keys sorted; other objects as strings)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def png_bytes(image: Image.Image) -> bytes:
    """``image`` encoded as PNG (lossless), with Pillow's default compression."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def parquet_files(path: str | Path) -> list[Path]:
    """``path`` itself if it is a Parquet file, else the Parquet files under it (recursively, sorted,
    hidden files and folders such as ``.gasr/`` excluded)."""
    path = Path(path)
    if path.is_file():
        if path.suffix != ".parquet":
            raise ValueError(f"{path} is not a .parquet file")
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {path}")
    files = [
        p
        for p in sorted(path.rglob("*.parquet"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    if not files:
        raise FileNotFoundError(f"no Parquet files under {path}")
    return files
