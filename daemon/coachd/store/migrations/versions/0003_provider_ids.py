"""Provider ids: each series' event id in the organizer's calendar provider, and its occurrences' ids,
kept beside coachd's iCalendar UID (which stays coachd's identity for mail headers and keys)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Plain SQLAlchemy types only, as in 0001: UTCDateTime's storage is DateTime(timezone=True).
TS = sa.DateTime(timezone=True)
# Google event ids are up to 1024 characters, an instance's adds "_<UTC time>"; Graph's are shorter.
PROVIDER_ID = 1100


def upgrade() -> None:
    # A nullable column needs no table rebuild on SQLite: ADD COLUMN keeps every row as it is.
    op.add_column("series", sa.Column("provider_event_id", sa.String(length=PROVIDER_ID), nullable=True))
    # The calendar sync of a cloud provider names events by its own id: looked up per entry.
    op.create_index(op.f("ix_series_provider_event_id"), "series", ["provider_event_id"])
    op.create_table(
        "occurrence_ids",
        sa.Column("series_uid", sa.String(length=255), nullable=False),
        sa.Column("recurrence_id", TS, nullable=False),
        sa.Column("provider_id", sa.String(length=PROVIDER_ID), nullable=False),
        sa.PrimaryKeyConstraint("series_uid", "recurrence_id", name=op.f("pk_occurrence_ids")),
        sa.ForeignKeyConstraint(["series_uid"], ["series.uid"], name=op.f("fk_occurrence_ids_series_uid_series")),
    )


def downgrade() -> None:
    op.drop_table("occurrence_ids")
    op.drop_index(op.f("ix_series_provider_event_id"), table_name="series")
    # Not batch mode: on SQLite that copies series into a new table and drops the old one, which
    # the sessions' foreign keys forbid while they have rows; SQLite (3.35+) drops the column in place.
    op.drop_column("series", "provider_event_id")
