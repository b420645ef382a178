"""One writer per output folder: an OS lock (``fcntl.flock``) on ``FOLDER/.gasr/lock``.

A command that writes a folder (``gasr build``, ``generate``, ``annotate``, ``ingest``, ``tile``,
``train``, ``eval``) holds the lock for its whole run; a second run into the same folder fails at once
with a :class:`FolderBusy` naming the folder and the holder's PID. The OS releases the lock when the
holder exits, however it exits (a kill -9 included), so a stale lock never blocks a rerun. The lock
file is never removed: a run still waiting on it would otherwise lock a deleted file while another
creates and locks a new one.

The processes of one ``accelerate launch`` (or ``torchrun``) share the lock: rank 0 takes it and
records its launch; the other ranks wait until the lock is held by a process of their own launch
(:func:`launch_id`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

LOCK_FILE = Path(".gasr") / "lock"
_RETRIES = 10
_RETRY_SECONDS = 0.1


class FolderBusy(ValueError):
    """Another run holds the folder's lock."""


def launch_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of this process as torchrun / ``accelerate launch`` set them."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def launch_id() -> str:
    """What the processes of one launch share and no other launch does: ``GASR_LAUNCH_ID``; else,
    under torchrun, its rendezvous (run id and master address, shared by every node; a loopback
    master means one machine, so the host name is added); else this machine and parent process."""
    if os.environ.get("GASR_LAUNCH_ID"):
        return os.environ["GASR_LAUNCH_ID"]
    master = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if all(master):
        run = os.environ.get("TORCHELASTIC_RUN_ID", "")
        local = master[0] in ("localhost", "127.0.0.1", "::1")
        return ":".join([socket.gethostname() if local else "", run, *master])
    return f"{socket.gethostname()}:{os.getppid()}"


def _open(folder: Path, path: Path) -> tuple[int, bool]:
    """A descriptor of the lock file and whether it is writable. On a read-only mount (a finished
    build, say) the lock file, or the folder itself when there is none, is locked through a
    read-only descriptor: ``flock`` needs no write access."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644), True
    except OSError as err:
        if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or not folder.is_dir():
            raise  # a folder that cannot be made: the error names where it could not write
        return os.open(path if path.is_file() else folder, os.O_RDONLY), False


def _holder(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        holder = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        holder = {}
    return holder if isinstance(holder, dict) else {}


def _busy(folder: Path, holder: dict[str, Any], command: str) -> FolderBusy:
    who = f"PID {holder['pid']}" if "pid" in holder else "a process whose PID is not recorded"
    what = f" (gasr {holder['command']})" if "command" in holder else ""
    return FolderBusy(
        f"{folder} is being written by another run: {who}{what} holds {folder / LOCK_FILE}; "
        f"wait for it to finish before running gasr {command} into this folder"
    )


def _try_flock(fd: int, operation: int) -> bool:
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_as_rank0(fd: int, path: Path, folder: Path, command: str, writable: bool) -> None:
    # Another rank of this launch may probe the lock for an instant: retry briefly before giving up.
    for _ in range(_RETRIES):
        if _try_flock(fd, fcntl.LOCK_EX):
            break
        time.sleep(_RETRY_SECONDS)
    else:
        raise _busy(folder, _holder(path), command)
    if writable:
        record = {"pid": os.getpid(), "command": command, "launch": launch_id()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)


def _join_launch(fd: int, path: Path, folder: Path, command: str) -> None:
    """Wait until rank 0 of this launch holds the lock; fail if another launch holds it."""
    mine, foreign, last_log = launch_id(), 0, time.monotonic()
    while True:
        if _try_flock(fd, fcntl.LOCK_SH):
            fcntl.flock(fd, fcntl.LOCK_UN)  # nobody holds it yet: rank 0 has not started
            foreign = 0
        else:
            holder = _holder(path)
            if holder.get("launch") == mine:
                return
            foreign += 1  # rank 0 may have taken it and not yet written its launch
            if foreign > _RETRIES:
                raise _busy(folder, holder, command)
        if time.monotonic() - last_log > 60:
            logger.info("waiting for rank 0 to lock %s", folder)
            last_log = time.monotonic()
        time.sleep(_RETRY_SECONDS)


@contextlib.contextmanager
def folder_lock(
    folder: str | Path, command: str, *, rank: int | None = None, world_size: int | None = None
) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block (``command`` names the holder in messages).

    ``rank`` and ``world_size`` default to the launch's (:func:`launch_rank`). Raises
    :class:`FolderBusy` at once when another run holds it.
    """
    folder = Path(folder)
    if rank is None or world_size is None:
        rank, world_size = launch_rank()
    path = folder / LOCK_FILE
    fd, writable = _open(folder, path)
    try:
        if rank == 0:
            _lock_as_rank0(fd, path, folder, command, writable)
        else:
            _join_launch(fd, path, folder, command)
        yield
    finally:
        os.close(fd)  # releases the lock
