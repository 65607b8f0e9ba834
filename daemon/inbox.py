"""The inbox job: match replies to the requests coachd sent, record them, never lose one."""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from sqlalchemy import select

from daemon.core import reply_text
from daemon.executor import ActionRecord, Executor
from daemon.program import Program
from daemon.store.models import Outbox, Reply

log = logging.getLogger("coachd.inbox")

ANSWERABLE = frozenset({"notes-request", "feedback-request", "feedback-reminder", "goal-check-in", "check-in",
                        "agenda"})


@dataclass
class Verdict:
    status: str
    reason: str | None = None
    kind: str | None = None
    session_id: str | None = None
    person_id: str | None = None
    rating: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def read_inbox(program: Program, executor: Executor, now: datetime) -> int:
    """Process every new message in the inbox; returns how many were new to the store."""
    handled = 0
    for inbound in program.inbox.fetch():
        message = email.message_from_bytes(inbound.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        message_id = _message_id(message, inbound.raw)
        with program.store.session() as db:
            seen = db.scalar(select(Reply.id).where(Reply.program_id == program.id, Reply.message_id == message_id))
        if seen is None:
            try:
                verdict = judge(program, message)
            except Exception as exc:  # one unreadable message must not hold up the rest of the inbox
                log.warning("reply %s could not be read: %s", message_id, exc, exc_info=True)
                verdict = Verdict("quarantined", f"could not be read: {type(exc).__name__}: {exc}")
            with program.store.session() as db:
                db.add(Reply(program_id=program.id, message_id=message_id, received_at=now,
                             from_addr=_sender(message), kind=verdict.kind, session_id=verdict.session_id,
                             person_id=verdict.person_id, status=verdict.status, reason=verdict.reason,
                             rating=verdict.rating, payload=verdict.payload, raw=inbound.raw))
            executor.emit(ActionRecord(now, f"reply:{program.id}/{message_id}", "reply", {
                "status": verdict.status, "kind": verdict.kind, "from": verdict.person_id,
                "session": verdict.session_id, "reason": verdict.reason}))
            handled += 1
        # Marked only after the record is committed: a crash in between re-reads a message we skip.
        program.inbox.mark_processed(inbound.ref)
    return handled


def _message_id(message: EmailMessage, raw: bytes) -> str:
    """The message's own Message-ID or, when it has none (or a broken one), one derived from its bytes."""
    try:
        declared = str(message.get("Message-ID", "")).strip()
    except Exception:  # a malformed header the parser defers to first access
        declared = ""
    return declared[:900] or f"<sha256-{hashlib.sha256(raw).hexdigest()}@coachd.invalid>"


def _sender(message: EmailMessage) -> str:
    try:
        addresses = getaddresses([str(message.get("From", ""))])
    except Exception:
        return ""
    return addresses[0][1].lower()[:320] if addresses else ""


def is_auto_reply(message: EmailMessage) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    return auto != "no" or "X-Autoreply" in message or str(message.get("Return-Path", "x")).strip() == "<>"


def judge(program: Program, message: EmailMessage) -> Verdict:
    """Decide what a message is: an answer to one of our requests, an auto-reply, or quarantine."""
    if is_auto_reply(message):
        return Verdict("auto-reply", "automatic reply (out of office or similar)")
    references = str(message.get("In-Reply-To", "")).split() + str(message.get("References", "")).split()
    if not references:
        return Verdict("quarantined", "not a reply to anything coachd sent (no In-Reply-To or References)")
    with program.store.session() as db:
        request = db.scalars(select(Outbox).where(Outbox.program_id == program.id,
                                                  Outbox.message_id.in_(references))).first()
        if request is None:
            return Verdict("quarantined", "replies to a message coachd did not send")
        kind, session_id, person_id, to_addr = request.kind, request.session_id, request.recipient, request.to_addr
    sender = _sender(message)
    person = program.cfg.people_by_id.get(person_id)
    allowed = {to_addr.lower()} | {str(a).lower() for a in (person.aliases if person else [])}
    if sender not in allowed:
        return Verdict("quarantined", f"sender {sender or '(none)'} is not {to_addr}, to whom the {kind} went",
                       kind, session_id, person_id)
    if kind not in ANSWERABLE:
        return Verdict("quarantined", f"a reply to a {kind}, which asks for no answer", kind, session_id, person_id)
    text = reply_text.new_text(reply_text.body_text(message))
    payload: dict[str, Any] = {"text": text}
    rating = None
    if kind == "notes-request":
        payload |= reply_text.coach_notes(text)
    elif kind in ("feedback-request", "feedback-reminder"):
        rating = reply_text.rating(text)
    return Verdict("handled", None, kind, session_id, person_id, rating, payload)
