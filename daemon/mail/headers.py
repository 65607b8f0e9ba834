"""Envelope, deterministic Message-IDs and the MIME assembly of one rendered email."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Protocol

from daemon.core.types import require_aware


class Recipient(Protocol):
    """What composition needs of a person; `daemon.core.types.Attendee` fits."""

    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def timezone(self) -> str: ...


@dataclass(frozen=True)
class Envelope:
    """Everything about an email that is not its content."""

    key: str  # idempotency key of this email; Message-ID derives from it
    sender_name: str
    sender_email: str
    date: datetime  # aware; becomes the Date header
    reply_to: str | None = None
    series_uid: str | None = None  # -> X-Coachd-Series
    session_id: str | None = None  # -> X-Coachd-Session ("<UID>/<RECURRENCE-ID UTC>")
    thread_key: str | None = None  # mail of one series threads under a virtual root derived from this
    ics: bytes | None = None  # iTIP payload for invitation/update/cancellation
    ics_method: str | None = None  # REQUEST | CANCEL


def domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "coachd.invalid"


def message_id(key: str, domain: str) -> str:
    """`<32 hex of sha256(key)@domain>`: the same key always yields the same id, so a
    re-rendered email after a crash is recognisably the same message."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def thread_root_id(thread_key: str, domain: str) -> str:
    """The virtual root every email of one thread refers to. It is simply the Message-ID an
    email keyed `thread_key` would get, so if such an email is ever sent it becomes the real root."""
    return message_id(thread_key, domain)


def _ics_method(envelope: Envelope, ics_text: str) -> str:
    if envelope.ics_method:
        return envelope.ics_method.upper()
    # The Content-Type method must match METHOD inside the calendar (RFC 6047).
    for line in ics_text.splitlines():
        if line.upper().startswith("METHOD:"):
            return line.split(":", 1)[1].strip().upper()
    return "REQUEST"


UNFOLDED = SMTP.clone(max_line_length=998)


def assemble(kind: str, recipient: Recipient, subject: str, text: str, html: str, envelope: Envelope) -> EmailMessage:
    """Build multipart/alternative (plain, html[, calendar]) and, with ics, an invite.ics attachment."""
    date = require_aware(envelope.date, "Envelope.date")
    domain = domain_of(envelope.sender_email)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(envelope.sender_name, addr_spec=envelope.sender_email)
    msg["To"] = Address(recipient.name, addr_spec=recipient.email)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    own_id = message_id(envelope.key, domain)
    msg["Message-ID"] = own_id
    if envelope.thread_key:
        root = thread_root_id(envelope.thread_key, domain)
        if root != own_id:
            msg["In-Reply-To"] = root
            msg["References"] = root
    if envelope.reply_to:
        msg["Reply-To"] = envelope.reply_to
    # RFC 3834: lets vacation responders stay silent; Exchange needs its own header for that.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    msg["X-Coachd-Kind"] = kind
    if envelope.series_uid:
        msg["X-Coachd-Series"] = envelope.series_uid
    if envelope.session_id:
        msg["X-Coachd-Session"] = envelope.session_id

    # Quoted-printable rather than 8bit: some relays still lack 8BITMIME.
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    if envelope.ics is not None:
        ics_text = envelope.ics.decode("utf-8")
        method = _ics_method(envelope, ics_text)
        # Gmail and Outlook read the alternative part for their RSVP buttons; other
        # clients only offer the attachment to import.
        msg.add_alternative(ics_text, subtype="calendar", params={"method": method}, cte="quoted-printable")
        msg.add_attachment(envelope.ics, maintype="application", subtype="ics", filename="invite.ics")
    seed = hashlib.sha256(f"boundary:{envelope.key}".encode("utf-8")).hexdigest()[:24]
    for index, part in enumerate(msg.walk()):
        if part is not msg:
            del part["MIME-Version"]  # only the top level carries it
        if part.is_multipart():
            # Boundaries from the key, not random: the same email renders to the same bytes.
            part.set_boundary(f"=_coachd_{seed}_{index}")
    # Bodies are encoded by now (QP at 76 columns); for serialising, allow header lines up to
    # RFC 5322's 998 so a long token such as X-Coachd-Session is never folded onto a line of its
    # own, which some parsers (Python's among them) then read back with a leading space.
    msg.policy = UNFOLDED
    return msg
