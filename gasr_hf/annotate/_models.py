"""Per-process model cache and device choice shared by the model-backed annotators (SAM, CLIP)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_CACHE: dict[Hashable, Any] = {}
_LOCK = threading.Lock()


def resolve_device(device: str | None, rank: int | None) -> str:
    """``device`` when given; else ``cuda:{rank % n_gpus}`` when CUDA is present; else ``cpu``.

    ``rank`` is what ``datasets.map(..., with_rank=True)`` passes (``None`` in a single process).
    """
    if device is not None:
        return device
    import torch

    if torch.cuda.is_available():
        return f"cuda:{(rank or 0) % torch.cuda.device_count()}"
    return "cpu"


def cached(key: Hashable, load: Callable[[], Any]) -> Any:
    """The object ``load()`` returns, built once per process for each ``key``."""
    with _LOCK:
        if key not in _CACHE:
            logger.info("loading %s", key)
            _CACHE[key] = load()
        return _CACHE[key]


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, computed once per process (checkpoints are large)."""
    from gasr_hf.files import sha256_file

    resolved = Path(path).resolve()
    key = ("sha256", str(resolved), resolved.stat().st_mtime_ns)
    return cached(key, lambda: sha256_file(resolved))
