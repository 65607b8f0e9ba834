"""Outbox claims that name their holder, the email in flight, and resends after a crash.

`claimed_by` lets a daemon hand back at once the claims of a sender process that died (instead of
waiting out the lease); `sending_at` marks the one email whose outcome a crash left unknown;
`resent_after_crash` counts the emails sent again without the provider being able to tell whether
the first send arrived.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# Plain SQLAlchemy types only, as in 0001: UTCDateTime's storage is DateTime(timezone=True).
TS = sa.DateTime(timezone=True)
CLAIMANT = 200


def upgrade() -> None:
    # Nullable columns and one with a server default need no table rebuild on SQLite: ADD COLUMN
    # keeps every row as it is (a queued email of an older version is simply unclaimed).
    op.add_column("outbox", sa.Column("claimed_by", sa.String(length=CLAIMANT), nullable=True))
    op.add_column("outbox", sa.Column("sending_at", TS, nullable=True))
    op.add_column("outbox", sa.Column("resent_after_crash", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place; nothing refers to these.
    op.drop_column("outbox", "resent_after_crash")
    op.drop_column("outbox", "sending_at")
    op.drop_column("outbox", "claimed_by")
