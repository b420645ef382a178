import fcntl
import os

import pytest

from gasr_hf.lock import LOCK_FILE, FolderBusy, folder_lock


def test_a_run_failing_in_a_new_folder_leaves_the_lock_file_others_wait_on(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(RuntimeError, match="failed before writing"):
        with folder_lock(out, "build"):
            # A second run that opened the lock file and is still retrying holds this inode.
            waiting = os.open(out / LOCK_FILE, os.O_RDWR)
            raise RuntimeError("failed before writing")
    try:
        with folder_lock(out, "build"):
            # A third run now holds the lock: the waiting run must not get it too.
            with pytest.raises(BlockingIOError):
                fcntl.flock(waiting, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(waiting, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(FolderBusy, match=f"{out} is being written by another run"):
            with folder_lock(out, "build"):
                pass
    finally:
        os.close(waiting)
