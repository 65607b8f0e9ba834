"""Reply tracking: each request's reply token, Message-ID lookups, and which request a reply answered;
outbox messages kept apart from the outbox rows, whose state changes would otherwise rewrite them."""

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
    op.create_table(
        "outbox_messages",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_outbox_messages")),
    )
    op.execute("INSERT INTO outbox_messages (key, message) SELECT key, message FROM outbox")
    # The column goes before anything refers to outbox: on SQLite dropping it rebuilds the table.
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("message")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.create_foreign_key(op.f("fk_outbox_messages_key_outbox"), "outbox", ["key"], ["key"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_constraint(op.f("fk_outbox_messages_key_outbox"), type_="foreignkey")
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("message", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE outbox SET message = (SELECT m.message FROM outbox_messages m WHERE m.key = outbox.key)")
    # 0001's outbox holds every row's message: NOT NULL again once each row has its message back.
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("message", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("outbox_messages")
    with op.batch_alter_table("replies") as batch:
        batch.drop_column("request_key")
    op.drop_index(op.f("ix_outbox_message_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_reply_token"), table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("reply_token")
