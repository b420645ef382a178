"""Checkpoint digests shared by the model-backed annotators (SAM, CLIP); devices and the model
cache are :mod:`gasr_hf.placement`'s."""

from __future__ import annotations

from pathlib import Path

from gasr_hf.placement import cached


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, computed once per process (checkpoints are large)."""
    from gasr_hf.files import sha256_file

    resolved = Path(path).resolve()
    key = ("sha256", str(resolved), resolved.stat().st_mtime_ns)
    return cached(key, lambda: sha256_file(resolved))
