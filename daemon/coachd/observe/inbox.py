"""The inbox job: match replies to the requests coachd sent, record them, never lose one."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from coachd.config import ProgramConfig
from coachd.replies import reading as reply_text
from coachd.replies.trim import NOTE_HEADER, kept_message
from coachd.model.mail_kinds import (EXPECTS_ANSWER, FEEDBACK_KINDS, NOTES_KINDS, SELF_RATED_KINDS, MailKind,
                                     expects_answer)
from coachd.model.serial import booked_from_row
from coachd.model.types import ical_utc
from coachd.execute.executor import ActionRecord, Executor
from coachd.mail import reply_token
from coachd.runtime.wiring import ProgramRuntime
from coachd.store import outbox_repo, replies_repo, series_repo

log = logging.getLogger("coachd.inbox")

# Out-of-office and other robots: recognised by the headers RFC 3834 and the big servers set.
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse")
_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk", "list"})


@dataclass
class Verdict:
    status: str
    reason: str | None = None
    kind: str | None = None
    session_id: str | None = None
    person_id: str | None = None
    rating: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    request_key: str | None = None


def read_inbox(program: ProgramRuntime, executor: Executor, now: datetime) -> int:
    """Process every new message in the inbox; returns how many were new to the store."""
    handled = 0
    for inbound in program.inbox.fetch():
        program.raise_if_stopping()
        # Judged and stored as kept: a large message's attachments are dropped first (replies/trim.py),
        # so an admin assigning it later reads exactly what the inbox read.
        raw = kept_message(inbound.raw)
        message = reply_text.parse_message(raw)
        message_id = _message_id(message, raw)
        if raw is not inbound.raw:
            log.info("reply %s is %d bytes: kept %d (%s)", message_id, len(inbound.raw), len(raw),
                     _header(message, NOTE_HEADER))
        with program.store.session() as db:
            seen = replies_repo.is_recorded(db, program.id, message_id)
        if not seen:
            try:
                verdict = judge(program, message, now)
            except Exception as exc:  # one unreadable message must not hold up the rest of the inbox
                log.warning("reply %s could not be read: %s", message_id, exc, exc_info=True)
                verdict = Verdict("quarantined", f"could not be read: {type(exc).__name__}: {exc}")
            # Text from a message may hold NUL characters, which PostgreSQL's text and JSON refuse:
            # one such reply must not stop every reply behind it.
            with program.store.session() as db:
                replies_repo.add(db, program.id, message_id, now, _without_nul(_sender(message)), kind=verdict.kind,
                                 session_id=verdict.session_id, person_id=verdict.person_id, status=verdict.status,
                                 reason=_without_nul(verdict.reason), rating=verdict.rating,
                                 payload=_without_nul(verdict.payload), raw=raw,
                                 request_key=verdict.request_key)
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
    if "\x00" in declared or not declared.isprintable():
        declared = ""  # not a Message-ID anyone could refer to; the bytes still name the message
    return declared[:900] or f"<sha256-{hashlib.sha256(raw).hexdigest()}@coachd.invalid>"


def _without_nul(value: Any) -> Any:
    """`value` with NUL characters dropped from every string in it."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def _sender(message: EmailMessage) -> str:
    try:
        addresses = getaddresses([str(message.get("From", ""))])
    except Exception:
        return ""
    return addresses[0][1].lower()[:320] if addresses else ""


def is_auto_reply(message: EmailMessage) -> bool:
    """An out-of-office or other automatic message: never an answer, never worth quarantining."""
    auto = _header(message, "Auto-Submitted", "no").lower()
    if auto and auto != "no":
        return True
    if any(name in message for name in _AUTO_HEADERS):
        return True
    if _header(message, "Precedence").lower() in _AUTO_PRECEDENCE:
        return True
    # Exchange marks its own; an empty return path is what bounces and autoresponders use (RFC 5321).
    if _header(message, "X-MS-Exchange-Inbox-Rules-Loop") or _header(message, "Return-Path", "x") == "<>":
        return True
    return False


def _header(message: EmailMessage, name: str, default: str = "") -> str:
    try:
        return str(message.get(name, default)).strip()
    except Exception:  # a malformed header the parser defers to first access
        return default


@dataclass(frozen=True)
class Request:
    """The email a reply answers, as the outbox recorded it."""

    key: str
    kind: str
    session_id: str | None
    person_id: str
    to_addr: str


def judge(program: ProgramRuntime, message: EmailMessage, now: datetime) -> Verdict:
    """Decide what a message is: an answer to one of our requests, an RSVP, an auto-reply, or quarantine."""
    if is_auto_reply(message):
        return Verdict("auto-reply", "automatic reply (out of office or similar)")
    responses = reply_text.itip_reply(message)
    if responses:
        return _rsvp(program, message, responses)
    request, problem = find_request(program, message)
    if request is None:
        return Verdict("quarantined", problem)
    return answer(program, message, request, now)


def find_request(program: ProgramRuntime, message: EmailMessage) -> tuple[Request | None, str]:
    """The request a reply answers: by the token in the address it was sent to, else by the
    Message-IDs it refers to. With no request, the reason why, for the quarantine."""
    tokens = reply_token.tokens_in(_header(message, name) for name in reply_token.ADDRESS_HEADERS)
    secret = program.reply_secret() if tokens else b""
    genuine = [t for t in tokens if reply_token.verify(secret, program.id, t)]
    in_reply_to = _header(message, "In-Reply-To").split()[:5]
    # The parent first, then the thread from its newest message back (References lists oldest first).
    references = list(dict.fromkeys(in_reply_to + _header(message, "References").split()[::-1]))[:50]
    sender = _sender(message)
    with program.store.session() as db:
        if genuine:
            rows = outbox_repo.requests_by_token(db, program.id, genuine)
            if rows:
                # Two genuine tokens (a reply to several requests at once): the one sent to this sender.
                best = min(rows, key=lambda r: (r.to_addr.lower() != sender, genuine.index(r.reply_token)))
                return Request(*best[:5]), ""
        if references:
            rows = outbox_repo.requests_by_message_id(db, program.id, references)
            if rows:
                # Of the emails it refers to, one that asks for an answer, nearest the reply first.
                best = min(rows, key=lambda r: (r.kind not in EXPECTS_ANSWER, references.index(r.message_id)))
                return Request(*best[:5]), ""
    if tokens and not genuine:
        return None, "the reply token in the address it was sent to is not one coachd made (altered or forged)"
    if genuine:
        return None, "its reply token names no request coachd has a record of"
    if references:
        return None, "replies to a message coachd did not send"
    return None, "not a reply to anything coachd sent (no reply token, In-Reply-To or References)"


def answer(program: ProgramRuntime, message: EmailMessage, request: Request, now: datetime) -> Verdict:
    """Read a reply to `request`: checked for its sender, then parsed for what that kind asks."""
    kind, session_id, person_id = request.kind, request.session_id, request.person_id
    sender = _sender(message)
    if sender not in allowed_senders(program, person_id, request.to_addr):
        return Verdict("quarantined", f"sender {sender or '(none)'} is not {request.to_addr}, to whom the {kind} "
                       "went (or an alias of theirs in the config)", kind, session_id, person_id,
                       request_key=request.key)
    if not expects_answer(kind, session_id):
        return Verdict("quarantined", f"a reply to a {kind}, which asks for no answer", kind, session_id, person_id,
                       request_key=request.key)
    payload, rating = read_answer(program.cfg, kind, person_id, reply_text.body_text(message), now)
    if not payload["text"]:
        return Verdict("quarantined", "nothing new in it (only quoted text, a signature, or an empty body)",
                       kind, session_id, person_id, request_key=request.key)
    return Verdict("handled", None, kind, session_id, person_id, rating, payload, request.key)


def read_answer(cfg: ProgramConfig, kind: str, person_id: str, body: str,
                now: datetime) -> tuple[dict[str, Any], int | None]:
    """What a reply of `kind` says: (payload, rating), from its whole body. Shared with admins
    assigning quarantined mail."""
    text = reply_text.new_text(body)
    payload: dict[str, Any] = {"text": text}
    rating = None
    if kind in NOTES_KINDS:
        person = cfg.people_by_id.get(person_id)
        today = now.astimezone(person.zone).date() if person else now.date()
        payload |= reply_text.coach_notes(text, today=today)
    elif kind in FEEDBACK_KINDS:
        # The whole body: answers typed under the quoted questions belong to those questions.
        found = reply_text.feedback(body)
        rating = found.get("rating")
        payload |= {k: v for k, v in found.items() if k != "rating"}
    elif kind == MailKind.AGENDA:
        payload["topics"] = reply_text.topics(text)
    elif kind in SELF_RATED_KINDS:
        # Both ask for a 1-5 self-assessment on a line of its own; prose numbers are never read as one.
        rating = reply_text.rating(body)
    # Text from a message may hold NUL characters, which PostgreSQL's text and JSON refuse; dropped
    # here, so the inbox and an admin's `coachd inbox --assign` store the same clean payload.
    return _without_nul(payload), rating


def allowed_senders(program: ProgramRuntime, person_id: str, to_addr: str) -> set[str]:
    person = program.cfg.people_by_id.get(person_id)
    return {to_addr.lower()} | {str(a).lower() for a in (person.aliases if person else [])}


def _rsvp(program: ProgramRuntime, message: EmailMessage, responses: list[dict[str, Any]]) -> Verdict:
    """An iTIP REPLY (accept, decline, tentative) to one of our invitations: kept, and applied to
    the organizer's calendar where coachd keeps it (Google and Outlook apply their own)."""
    sender = _sender(message)
    people = program.cfg.person_id_by_email
    with program.store.session() as db:
        ours = {row.uid: booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled)
                for row in series_repo.by_uids(db, [r["uid"] for r in responses], program.id)}
    # Each answer is about the time the occurrence has now: a later move makes it an answer about
    # a time it no longer has (what a calendar does with a response to a moved instance, too).
    starts = {o.session_id: o.start.isoformat() for series in ours.values() for o in series.occurrences()}
    mine = [{**r, "start": starts.get(f"{r['uid']}/{ical_utc(datetime.fromisoformat(r['recurrence_id']))}")
             if r.get("recurrence_id") else None} for r in responses if r["uid"] in ours]
    if not mine:
        return Verdict("quarantined", "a calendar response to an event coachd did not book", "rsvp")
    person_id = people.get(sender)
    if person_id is None or any(people.get(r["attendee"]) != person_id for r in mine):
        return Verdict("quarantined", f"a calendar response from {sender or '(none)'} for someone else "
                       "(the attendee it names is not the sender)", "rsvp", person_id=person_id)
    first = mine[0]
    # The session id every other record uses ("uid/20270111T150000Z"), not the response's ISO time.
    session_id = (f"{first['uid']}/{ical_utc(datetime.fromisoformat(first['recurrence_id']))}"
                  if first.get("recurrence_id") else None)
    return Verdict("handled", None, "rsvp", session_id, person_id,
                   payload={"responses": [{**r, "person": person_id} for r in mine]})
