"""Every migration's downgrade, on SQLite and (with COACHD_TEST_DATABASE_URL) PostgreSQL: stepping down from
the head one revision at a time gives the very schema an upgrade to that revision gives, keeps the rows the
older schema can hold, and the database upgrades again afterwards (issue 15 point 7)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from coachd.store.db import alembic_config, create_store_engine, head_revision

T0 = datetime(2027, 1, 11, 15, 0)  # naive: written with raw SQL, as the store keeps UTC


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def schema(connection: Connection) -> dict[str, Any]:
    """What a revision is made of: tables, columns (type, nullability), keys, indexes and foreign keys."""
    looking = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(set(looking.get_table_names()) - {"alembic_version"}):
        tables[table] = {
            "columns": sorted((c["name"], str(c["type"]), bool(c["nullable"])) for c in looking.get_columns(table)),
            "primary key": sorted(looking.get_pk_constraint(table)["constrained_columns"]),
            "indexes": sorted((tuple(i["column_names"]), bool(i["unique"])) for i in looking.get_indexes(table)),
            "unique": sorted(tuple(u["column_names"]) for u in looking.get_unique_constraints(table)),
            "foreign keys": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                                   for f in looking.get_foreign_keys(table)),
        }
    return tables


def _empty(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).touch()


def _at(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)
    connection.commit()


def _current(connection: Connection) -> list[str]:
    return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_there_are_migrations_to_step_down_from() -> None:
    assert revisions()[0] == "0001" and revisions()[-1] == head_revision() and len(revisions()) >= 4


def test_each_downgrade_gives_the_schema_its_upgrade_gave(database_url: str) -> None:
    _empty(database_url)
    engine = create_store_engine(database_url)
    try:
        expected: dict[str, dict[str, Any]] = {}
        with engine.connect() as connection:
            for revision in revisions():  # upgrading one step at a time: the schema of each revision
                _at(connection, revision)
                expected[revision] = schema(connection)
            assert expected[revisions()[0]], "the first revision makes tables"
            for older, newer in reversed(list(zip(revisions(), revisions()[1:]))):
                assert expected[older] != expected[newer], f"{newer} changes the schema"
                command.downgrade(alembic_config(connection), older)
                connection.commit()
                assert _current(connection) == [older]
                assert schema(connection) == expected[older], f"downgrading {newer} to {older}"
            command.downgrade(alembic_config(connection), "base")
            connection.commit()
            assert schema(connection) == {}, "downgrading 0001 drops every table"
            _at(connection, "head")  # and the database upgrades again from nothing
            assert schema(connection) == expected[revisions()[-1]]
    finally:
        engine.dispose()


def test_a_queued_email_and_a_reply_survive_the_downgrade_to_0001_and_back(database_url: str) -> None:
    _empty(database_url)
    engine = create_store_engine(database_url)
    raw = b"Subject: Agenda\r\n\r\nkept\r\n"
    try:
        with engine.connect() as connection:
            _at(connection, "head")
            connection.execute(text(
                "INSERT INTO outbox (key, program_id, kind, recipient, to_addr, subject, message_id, status, attempts, "
                "due_at, next_attempt_at, created_at, reply_token, claimed_by, resent_after_crash) VALUES "
                "('mail:p1/s1/agenda/ana', 'p1', 'agenda', 'ana', 'ana@example.org', 'Agenda', '<1@example.org>', "
                "'queued', 0, :t, :t, :t, 'tok', 'sender-1', 0)"), {"t": T0})
            connection.execute(
                text("INSERT INTO outbox_messages (key, message) VALUES ('mail:p1/s1/agenda/ana', :raw)"), {"raw": raw})
            connection.execute(text(
                "INSERT INTO replies (program_id, message_id, received_at, from_addr, status, payload, raw, "
                "request_key) VALUES ('p1', '<r@x>', :t, 'ana@example.org', 'handled', '{}', :raw, "
                "'mail:p1/s1/agenda/ana')"),
                {"t": T0, "raw": b"Rating: 4"})
            connection.commit()
            command.downgrade(alembic_config(connection), "0001")
            connection.commit()
            # 0002 moved the message out of the outbox row; its downgrade puts it back there.
            assert connection.execute(text("SELECT key, message FROM outbox")).one() == ("mail:p1/s1/agenda/ana", raw)
            assert connection.execute(text("SELECT message_id, raw FROM replies")).one() == ("<r@x>", b"Rating: 4")
            _at(connection, "head")
            assert connection.execute(text("SELECT message FROM outbox_messages")).scalar_one() == raw
            assert connection.execute(text("SELECT claimed_by FROM outbox")).scalar_one() is None
    finally:
        engine.dispose()
