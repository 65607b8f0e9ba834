"""Initial schema: series, sessions, action log, outbox, replies, busy, meta, job runs."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Plain SQLAlchemy types only (no application imports), so this file keeps meaning the same DDL
# whatever later happens to coachd.store. UTCDateTime's storage is DateTime(timezone=True).
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("uid", sa.String(255), nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("booked_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_series")),
        sa.UniqueConstraint("program_id", "key", name=op.f("uq_series_program_id_key")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(512), nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("series_uid", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recurrence_id", TS, nullable=False),
        sa.Column("start", TS, nullable=False),
        sa.Column("end", TS, nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.ForeignKeyConstraint(["series_uid"], ["series.uid"], name=op.f("fk_sessions_series_uid_series")),
    )
    op.create_index(op.f("ix_sessions_program_id_start"), "sessions", ["program_id", "start"])
    op.create_index(op.f("ix_sessions_series_uid"), "sessions", ["series_uid"])
    op.create_table(
        "action_log",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("done_at", TS, nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_action_log")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(512), nullable=True),
        sa.Column("series_uid", sa.String(255), nullable=True),
        sa.Column("recipient", sa.String(255), nullable=False),
        sa.Column("to_addr", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    op.create_index(op.f("ix_outbox_status_next_attempt_at"), "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("from_addr", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(512), nullable=True),
        sa.Column("person_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
        sa.UniqueConstraint("program_id", "message_id", name=op.f("uq_replies_program_id_message_id")),
    )
    op.create_table(
        "busy",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("person_id", sa.String(255), nullable=False),
        sa.Column("start", TS, nullable=False),
        sa.Column("end", TS, nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_busy")),
    )
    op.create_index(op.f("ix_busy_program_id_person_id_start"), "busy", ["program_id", "person_id", "start"])
    op.create_table(
        "meta",
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", "name", name=op.f("pk_meta")),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index(op.f("ix_job_runs_program_id_job_started_at"), "job_runs", ["program_id", "job", "started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_job_runs_program_id_job_started_at"), table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_table("meta")
    op.drop_index(op.f("ix_busy_program_id_person_id_start"), table_name="busy")
    op.drop_table("busy")
    op.drop_table("replies")
    op.drop_index(op.f("ix_outbox_status_next_attempt_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("action_log")
    op.drop_index(op.f("ix_sessions_series_uid"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_program_id_start"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("series")
