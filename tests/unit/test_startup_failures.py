"""Which start-up failures are temporary (exit 75, systemd restarts coachd) and which a person must fix
(exit 2): issue 14 point 3."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from coachd.runtime.wiring import StateUnavailable, is_temporary


class OperationalError(Exception):
    """Stands in for a driver's error wrapped by SQLAlchemy, which keeps it as `orig`."""

    def __init__(self, message: str, orig: BaseException | None = None) -> None:
        super().__init__(message)
        self.orig = orig


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EROFS, "Read-only file system"),
    OSError(errno.EIO, "Input/output error"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
    sqlite3.OperationalError("database or disk is full"),
    sqlite3.OperationalError("disk I/O error"),
    sqlite3.OperationalError("attempt to write a readonly database"),
    OperationalError("(psycopg.OperationalError) ...", orig=Exception(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused')),
    OperationalError("x", orig=Exception("FATAL:  the database system is starting up")),
    OperationalError("x", orig=Exception("could not translate host name: Temporary failure in name resolution")),
])
def test_a_full_or_read_only_disk_or_a_database_not_up_yet_is_temporary(error):
    assert is_temporary(error)
    try:
        raise StateUnavailable("cannot open the database for /var/lib/coachd") from error
    except StateUnavailable as unavailable:
        assert unavailable.temporary


@pytest.mark.parametrize("error", [
    OSError(errno.EACCES, "Permission denied"),
    OSError(errno.ENOTDIR, "Not a directory"),
    sqlite3.OperationalError("unable to open database file"),
    OperationalError("x", orig=Exception('FATAL:  password authentication failed for user "coachd"')),
    OperationalError("x", orig=Exception('FATAL:  database "coachd" does not exist')),
    ValueError("the database is at revision 0009, newer than this coachd"),
])
def test_a_permission_a_password_or_a_wrong_path_is_for_a_person_to_fix(error):
    assert not is_temporary(error)
    try:
        raise StateUnavailable("cannot use the state directory") from error
    except StateUnavailable as unavailable:
        assert not unavailable.temporary


def test_an_explicit_verdict_wins_and_the_default_is_permanent():
    assert StateUnavailable("in use", temporary=True).temporary
    assert not StateUnavailable("nothing booked").temporary
