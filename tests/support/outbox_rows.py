"""Emails put straight into a state's outbox, as the executor queues them, for the sending tests."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from coachd.store.db import Store
from coachd.store.models import Outbox, OutboxMessage


def queue_emails(url: str, program_id: str, count: int, now: datetime, prefix: str = "crash") -> list[str]:
    """Queue `count` emails due at `now`; returns their Message-IDs in queue order."""
    store = Store.open(url)
    ids = []
    try:
        with store.session() as db:
            for n in range(count):
                message = EmailMessage()
                message["From"] = "Northwind Coaching Office <coaching@northwind.example>"
                message["To"] = f"Person {n} <person{n}@northwind.example>"
                message["Subject"] = f"Agenda {n}"
                message["Date"] = "Mon, 11 Jan 2027 09:00:00 +0000"
                message["Message-ID"] = f"<{prefix}-{n}@northwind.example>"
                message["X-Coachd-Kind"] = "agenda"
                message.set_content(f"Email number {n}.\n" * 20)
                ids.append(str(message["Message-ID"]))
                db.add(Outbox(key=f"mail:test/{prefix}/{n}", program_id=program_id, kind="agenda", recipient=f"p{n}",
                              to_addr=f"person{n}@northwind.example", subject=f"Agenda {n}",
                              message_id=ids[-1], status="queued", attempts=0,
                              due_at=now, next_attempt_at=now, created_at=now))
                db.flush()  # the message refers to its outbox row
                db.add(OutboxMessage(key=f"mail:test/{prefix}/{n}", message=message.as_bytes()))
    finally:
        store.dispose()
    return ids
