"""Writing a file so that readers see the old one or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Folder scans (the local calendar's) skip names with this prefix: a write in progress.
TEMP_PREFIX = ".tmp-"


def remove_leftover_writes(folder: Path) -> list[Path]:
    """Delete the temp files of writes a crash cut short, anywhere under `folder`; returns them.

    Only for a process that holds the state's lock before anything of its own writes: any
    temp file then belongs to a process that is gone (its rename never happened, so the old
    file, or none, is what readers see)."""
    removed = []
    for path in folder.rglob(f"{TEMP_PREFIX}*.part"):
        try:
            path.unlink()
        except OSError:  # gone already, or not ours to remove: never a reason not to start
            continue
        removed.append(path)
    return removed


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half of one.

    The temp file lives in the same folder (os.replace is atomic only within a file system)
    and starts with a dot so folder scans skip it; data and directory are fsynced so a
    crash right after return cannot lose the write.
    """
    folder = path.parent
    fd, temp = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
