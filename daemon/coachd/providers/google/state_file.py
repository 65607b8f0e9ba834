"""A small JSON file of a provider's own state in the state directory, changed under a lock and written
atomically, so that the daemon and the sender process never lose each other's changes or see half a file."""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coachd.providers.files import atomic_write

log = logging.getLogger("coachd.google")


class StateFile:
    """`path` holds one JSON object; `changing()` yields it for reading and changing, under an exclusive
    lock on a sidecar `.lock` file (the JSON file itself is replaced on every write, so it cannot
    carry the lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")

    def read(self) -> dict[str, Any]:
        """The state as it is now (without the lock: a reader sees the old file or the new one)."""
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as error:
            # What it held is lost, not the mail: the provider starts over from the service's truth.
            log.warning("%s is unreadable (%s); starting from an empty state", self.path, error)
            return {}
        return value if isinstance(value, dict) else {}

    @contextmanager
    def changing(self) -> Iterator[dict[str, Any]]:
        """The state to change in place; written back (atomically) when the block ends without error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self.read()
                before = json.dumps(state, sort_keys=True)
                yield state
                after = json.dumps(state, sort_keys=True)
                if after != before:
                    atomic_write(self.path, after.encode("utf-8"))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def remember(table: dict[str, Any], key: str, value: Any, limit: int) -> None:
    """Set `key` as the newest entry of `table`, forgetting the oldest beyond `limit` (JSON objects keep
    their order), so that state files of a daemon running for years stay small."""
    table.pop(key, None)
    table[key] = value
    while len(table) > limit:
        del table[next(iter(table))]
