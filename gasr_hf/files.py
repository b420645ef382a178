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
    sees the old file or the new one, never half of one. The temporary name holds this process's
    id, and ``tmp_tag`` tells apart writers within one process (ranks run as threads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(tmp_name(path.name, tmp_tag))
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def tmp_name(name: str, tag: str = "") -> str:
    """A hidden temporary name for ``name`` that no other process (and no other ``tag``) uses."""
    return f".{name}.{os.getpid()}{'.' + tag if tag else ''}.tmp"


def write_json_atomic(path: str | Path, data: Any, *, tmp_tag: str = "") -> Path:
    """:func:`write_text_atomic` of ``data`` as indented JSON (paths and other objects as strings)."""
    return write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n", tmp_tag=tmp_tag)


def read_json_state(path: str | Path, keys: tuple[str, ...] = (), what: str = "state file") -> Any:
    """A JSON mapping written by gasr_hf (a marker, a report); a file that does not parse, is not a
    mapping or lacks one of ``keys`` is a ValueError naming ``path``, so a truncated or hand-edited
    state file is reported in one line instead of a traceback."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: corrupt {what} ({err}); remove it to redo that step") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: corrupt {what} (not a JSON object); remove it to redo that step")
    missing = [key for key in keys if key not in data]
    if missing:
        raise ValueError(f"{path}: corrupt {what} (no {missing[0]!r}); remove it to redo that step")
    return data


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
