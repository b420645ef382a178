"""Where models run: the one device policy, and the per-process model cache.

Every stage that runs a torch model (generate, annotate, eval, corpus expand) asks :func:`place`
for its device and dtype, so ``accelerate launch``, ``datasets.map(with_rank=True, num_proc=N)``
and a plain process all put models on devices the same way.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
"""Accepted spellings of a dtype -> torch's name for it."""


@dataclass(frozen=True)
class Placement:
    device: str
    """A torch device string: ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""
    dtype: str
    """torch's name of the dtype: ``float32``, ``float16`` or ``bfloat16``."""

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)


def place(
    device: str | None = None, dtype: str | None = None, *, rank: int | None = None
) -> Placement:
    """The device and dtype a model of this process runs on.

    The device is, in order: ``device`` when given (and not ``"auto"``); for a ``datasets.map``
    worker (``rank`` is what ``with_rank=True`` passes), ``cuda:{rank % n_gpus}`` with CUDA, else
    the CPU; the device of accelerate's state when this process set one up (``accelerate launch``,
    ``torchrun``); ``cuda:{LOCAL_RANK % n_gpus}`` under a launcher that set ``LOCAL_RANK``; ``cuda``
    when CUDA is there; else the CPU. ``dtype`` (default ``float32``) is checked against the
    device: bfloat16 needs a GPU that supports it.
    """
    import torch

    dtype_name = _dtype_name(dtype)
    if device is not None and device != "auto":
        chosen = _checked(device)
    elif rank is not None:
        if rank < 0:
            raise ValueError(f"rank must be >= 0, got {rank}")
        chosen = f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"
    else:
        chosen = _process_device()
    if dtype_name == "bfloat16" and chosen.startswith("cuda"):
        index = torch.device(chosen).index
        supported = torch.cuda.is_bf16_supported() if index is None else _bf16_on(index)
        if not supported:
            raise ValueError(f"dtype bfloat16: device {chosen} does not support it; use float16")
    if dtype_name == "float16" and chosen == "cpu":
        logger.warning("float16 on the CPU is slow and some operators lack it; float32 is safer")
    return Placement(chosen, dtype_name)


def _dtype_name(dtype: str | None) -> str:
    if dtype is None:
        return "float32"
    try:
        return DTYPE_NAMES[dtype]
    except KeyError:
        raise ValueError(
            f"dtype must be one of {', '.join(sorted(DTYPE_NAMES))}, got {dtype!r}"
        ) from None


def _checked(device: str) -> str:
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a torch device: {err}") from err
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: CUDA is not available on this machine")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device {device!r}: this machine has {count} CUDA device(s)")
    return device


def _bf16_on(index: int) -> bool:
    import torch

    with torch.cuda.device(index):
        return torch.cuda.is_bf16_supported()


def _process_device() -> str:
    import torch

    if accelerate_active():
        from accelerate.state import PartialState

        return str(PartialState().device)
    if torch.cuda.is_available():
        local_rank = os.environ.get("LOCAL_RANK")
        if local_rank is not None and local_rank.isdigit():
            return f"cuda:{int(local_rank) % torch.cuda.device_count()}"
        return "cuda"
    return "cpu"


def process_state() -> Any:
    """accelerate's ``PartialState`` for this process, a CPU-only launch included.

    ``PartialState()`` alone treats processes that ``torchrun`` or ``accelerate launch`` started on a
    machine without a GPU as separate single-process runs (only ``Accelerator`` reads
    ``ACCELERATE_USE_CPU``), so every rank would do all the work; this asks for the multi-CPU state
    there (gloo) instead.
    """
    import accelerate

    launched = os.environ.get("LOCAL_RANK") is not None or int(os.environ.get("WORLD_SIZE", 1)) > 1
    if launched and not accelerate_active():
        import torch
        from accelerate.utils import parse_flag_from_env

        if parse_flag_from_env("ACCELERATE_USE_CPU") or not torch.cuda.is_available():
            return accelerate.PartialState(cpu=True)
    return accelerate.PartialState()


def accelerate_active() -> bool:
    """Whether this process has set up accelerate's state (``PartialState`` or ``Accelerator``).

    Only read, never created here: creating it under a launcher's environment joins the process
    group, which a stage that runs alone (an experiment's training run) must not do.
    """
    from accelerate.state import PartialState

    return PartialState._shared_state != {}


_IMPORTED_BY = os.getpid()
"""The process that imported this module; a forked child inherits the value."""


def single_thread_in_forked_worker() -> None:
    """In a forked process (a ``datasets.map(num_proc=N)`` worker), run torch on one CPU thread:
    GNU OpenMP hangs in a fork whose parent had already used its thread pool."""
    if os.getpid() != _IMPORTED_BY:
        import torch

        torch.set_num_threads(1)


_CACHE: dict[Hashable, Any] = {}
_LOCK = threading.Lock()


def cached(key: Hashable, load: Callable[[], Any]) -> Any:
    """The object ``load()`` returns, built once per process for each ``key``."""
    with _LOCK:
        if key not in _CACHE:
            logger.info("loading %s", key)
            _CACHE[key] = load()
        return _CACHE[key]
