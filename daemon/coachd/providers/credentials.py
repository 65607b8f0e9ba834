"""The credential store: providers' tokens in one 0600 file in the state directory, refreshed by one process at a time.

The daemon and its sender process (runtime/sender_process.py) each build their providers, and an
OAuth refresh token may be single-use (Microsoft rotates them): two processes refreshing at once
would leave one holding a token the service has already replaced. So a refresh happens under an
exclusive fcntl lock, and reads the current token only once it holds it: the process that waited
finds the token the other one just wrote, and does not refresh again.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FILE_NAME = "credentials.json"
LOCK_NAME = "credentials.lock"
FORMAT = 1
MODE = 0o600


class CredentialStoreError(Exception):
    """The credential file cannot be read or written; the message names the file."""


@dataclass
class Credential:
    """One entry being refreshed: `value` is what the store holds now (None: nothing yet); set it
    to the new token to have it written when the `refreshing` block ends without an error."""

    name: str
    value: dict[str, Any] | None


class CredentialStore:
    """Named credentials (one per provider account, e.g. "google:coach@example.org"), each a JSON object."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self.lock_path = state_dir / LOCK_NAME

    def get(self, name: str) -> dict[str, Any] | None:
        """The credential stored under `name`, or None."""
        with self._locked(fcntl.LOCK_SH):
            return self._read().get(name)

    def put(self, name: str, value: dict[str, Any]) -> None:
        """Store `value` under `name` (after a person logged in, say)."""
        with self.refreshing(name) as credential:
            credential.value = value

    def delete(self, name: str) -> None:
        """Forget the credential stored under `name` (nothing happens when there is none)."""
        with self._locked(fcntl.LOCK_EX):
            entries = self._read()
            if entries.pop(name, None) is not None:
                self._write(entries)

    @contextmanager
    def refreshing(self, name: str) -> Iterator[Credential]:
        """Hold the store for a refresh of `name`: no other process or thread reads or writes it
        until the block ends. Yields the credential as stored now (after any refresh another
        process finished while this one waited); a `value` changed in the block is written,
        atomically, when the block ends without an error. Not re-entrant."""
        with self._locked(fcntl.LOCK_EX):
            entries = self._read()
            current = entries.get(name)
            credential = Credential(name, None if current is None else dict(current))
            yield credential
            if credential.value != current:
                if credential.value is None:
                    entries.pop(name, None)
                else:
                    entries[name] = credential.value
                self._write(entries)

    def signature(self) -> tuple[int, int, int] | None:
        """What changes whenever the file is written (a login, a refresh): (inode, size, mtime in ns)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_size, stat.st_mtime_ns

    # --- the file --------------------------------------------------------------------------------

    @contextmanager
    def _locked(self, operation: int) -> Iterator[None]:
        # The lock is a file of its own: the data file is replaced on every write, and a lock on a
        # replaced inode would guard nothing. Opened for each use, so that threads of one process
        # (each with its own open file) exclude each other as processes do.
        handle = self._open_lock()
        try:
            fcntl.flock(handle, operation)
            yield
        finally:
            handle.close()  # releases the flock

    def _open_lock(self) -> IO[bytes]:
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, MODE)
        except OSError as error:
            raise CredentialStoreError(f"cannot open the credential lock {self.lock_path}: "
                                       f"{error.strerror or error}") from error
        return os.fdopen(fd, "r+b")

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise CredentialStoreError(f"cannot read the credential store {self.path}: "
                                       f"{error.strerror or error}") from error
        try:
            data = json.loads(text)
        except ValueError as error:
            raise CredentialStoreError(f"the credential store {self.path} is not valid JSON ({error}); "
                                       "remove it and log in again") from error
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CredentialStoreError(f"the credential store {self.path} is not in a format this coachd "
                                       f"reads (expected format {FORMAT}); remove it and log in again")
        entries = data.get("credentials")
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            raise CredentialStoreError(f"the credential store {self.path} has no readable `credentials` "
                                       "object; remove it and log in again")
        return entries

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        data = json.dumps({"format": FORMAT, "credentials": entries}, indent=2, sort_keys=True).encode()
        temp = self.path.with_name(f".tmp-{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            # Created 0600 and chmod-ed again: the mode given to open() is masked by the umask,
            # and a token must never be readable by anyone else, whatever the umask says.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
            try:
                os.fchmod(fd, MODE)
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.path)
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as error:
            temp.unlink(missing_ok=True)
            raise CredentialStoreError(f"cannot write the credential store {self.path}: "
                                       f"{error.strerror or error}") from error
