"""Reply tracking: each request's reply token, Message-ID lookups, and which request a reply answered."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("reply_token", sa.String(length=64), nullable=True))
    # Replies are matched by token first, then by the Message-IDs they refer to: both looked up per reply.
    op.create_index(op.f("ix_outbox_reply_token"), "outbox", ["reply_token"])
    op.create_index(op.f("ix_outbox_message_id"), "outbox", ["message_id"])
    with op.batch_alter_table("replies") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("replies") as batch:
        batch.drop_column("request_key")
    op.drop_index(op.f("ix_outbox_message_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_reply_token"), table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("reply_token")
