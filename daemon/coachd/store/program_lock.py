"""One daemon per program per PostgreSQL database: a session-level advisory lock held for the daemon's life.

Two daemons on one database race (an IntegrityError, a job failing with "no context for invitation",
two reply secrets) until replicas are coordinated; until then the second is refused, as the state
directory's file lock refuses a second daemon on SQLite. The lock lives on a connection of its own
(no pool: closing it ends the session and frees the lock), named by `application_name` so that the
refusal can say who holds it.
"""

from __future__ import annotations

import hashlib
import os
import socket

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

# What pg_stat_activity shows for the lock's connection; the refusal quotes it.
APPLICATION_NAME = "coachd {host} pid {pid} program {program}"
HOLDER = text(
    "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")


class ProgramInUse(Exception):
    """Another coachd runs this program in this database."""


def lock_key(database: str, schema: str, program_id: str) -> int:
    """A stable signed 64-bit key (pg_advisory_lock's bigint) for one program in one database and schema.

    The schema is part of it: advisory locks are per database, and schemas of one database hold
    separate coachd stores (the tests make one per test)."""
    digest = hashlib.sha256(f"coachd-program\0{database}\0{schema}\0{program_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ProgramLock:
    """The held lock; `release` (or the end of the process, or of the connection) frees it."""

    def __init__(self, engine: Engine, connection: Connection) -> None:
        self._engine, self._connection = engine, connection

    def release(self) -> None:
        try:
            self._connection.close()
        finally:
            self._engine.dispose()


def hold_program(url: str, program_id: str) -> ProgramLock | None:
    """Take the program's lock in the PostgreSQL database at `url`; None for SQLite (the state
    directory's lock file does it there). Raises ProgramInUse naming the holder when it is taken."""
    if make_url(url).get_backend_name() != "postgresql":
        return None
    engine = create_engine(url, poolclass=NullPool)
    connection = engine.connect()
    try:
        name = APPLICATION_NAME.format(host=socket.gethostname(), pid=os.getpid(), program=program_id)
        connection.execute(text("SELECT set_config('application_name', :name, false)"), {"name": name[:63]})
        database, schema = connection.execute(text("SELECT current_database(), current_schema()")).one()
        key = lock_key(database, schema or "", program_id)
        got = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        # Session-level: the lock outlives this transaction, held until the connection closes.
        connection.commit()
        if not got:
            unsigned = key & 0xFFFFFFFFFFFFFFFF
            holder = connection.execute(HOLDER, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}).first()
            connection.commit()
            who = (f"{holder.application_name or 'another client'}, connected from "
                   f"{holder.client_addr or 'a local socket'}, server pid {holder.pid}") if holder else "another coachd"
            where = f"{database}" + (f" (schema {schema})" if schema and schema != "public" else "")
            raise ProgramInUse(f"program {program_id} in database {where} is run by another coachd ({who}); "
                               "stop it first: two daemons on one program would book and send twice")
    except BaseException:
        connection.close()
        engine.dispose()
        raise
    return ProgramLock(engine, connection)
