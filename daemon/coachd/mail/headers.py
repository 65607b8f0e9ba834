"""Envelope, deterministic Message-IDs and the MIME assembly of one rendered email."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from io import BytesIO
from datetime import datetime
import re
from email import message_from_bytes
from email.generator import BytesGenerator
from email.charset import BASE64, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import SMTP, compat32
from email.utils import format_datetime, formataddr
from typing import Protocol, Sequence

from coachd.model.types import require_aware


class Recipient(Protocol):
    """What composition needs of a person; `coachd.model.types.Attendee` fits."""

    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def timezone(self) -> str: ...


class InlineImage(Protocol):
    """A picture the HTML part shows by `cid:`; `coachd.reporting.charts.Chart` fits."""

    @property
    def cid(self) -> str: ...  # without angle brackets
    @property
    def mime(self) -> str: ...  # image/png
    @property
    def filename(self) -> str: ...
    @property
    def data(self) -> bytes: ...


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
# Assembly uses the compat32 MIME classes: several times faster than EmailMessage's header registry
# and content manager, which matters when a program sends thousands of emails. Lines end in CRLF and
# header lines may run to RFC 5322's 998 characters, so a long token such as X-Coachd-Session is never
# folded onto a line of its own (which some parsers, Python's among them, read back with a leading space).
WIRE = compat32.clone(max_line_length=998, linesep="\r\n")
# Names and subjects outside ASCII become base64 encoded words: every mail client decodes them, and
# the email package computes them in C, where its quoted-printable header encoder is pure Python.
_HEADER_UTF8 = Charset("utf-8")
_HEADER_UTF8.header_encoding = BASE64


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class WireGenerator(BytesGenerator):
    """The email package's generator, for the MIME structure coachd builds, without two costs it
    pays on every line: header lines that are already plain short ASCII are written as they are
    (the stock generator runs each through the RFC 2047 folding machinery, to the same result),
    and a body's line endings are converted in one pass rather than line by line (same bytes)."""

    def _write_headers(self, msg: Message) -> None:
        limit = self.policy.max_line_length or 998
        for name, value in msg.raw_items():
            if (isinstance(value, str) and value.isascii() and "\r" not in value and "\n" not in value
                    and len(name) + 2 + len(value) <= limit):
                self.write(f"{name}: {value}{self._NL}")
            else:
                self._fp.write(self.policy.fold_binary(name, value))
        self.write(self._NL)

    def _write_lines(self, lines: str) -> None:
        if lines:
            self.write(_LINE_BREAK.sub(self._NL, lines))


def wire_bytes(msg: Message) -> bytes:
    """`msg` as it goes on the wire (CRLF, lines up to 998 characters)."""
    buffer = BytesIO()
    WireGenerator(buffer, mangle_from_=False, policy=WIRE).flatten(msg)
    return buffer.getvalue()


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    """A UTF-8 text part, quoted-printable rather than 8bit (some relays still lack 8BITMIME), so a
    human can still read the source. Encoded with binascii, in C, which is three times faster than
    the email package's own encoder and gives the same bytes a decoder reads back."""
    part = MIMENonMultipart("text", subtype, policy=WIRE, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii"))
    return part


def _image_part(image: InlineImage) -> MIMENonMultipart:
    """An inline picture for the HTML part: Content-ID for its `cid:` and a file name, which
    Outlook needs to show it in place rather than as an attachment."""
    maintype, _, subtype = image.mime.partition("/")
    part = MIMENonMultipart(maintype, subtype, policy=WIRE, name=image.filename)
    part["Content-Transfer-Encoding"] = "base64"
    part["Content-ID"] = f"<{image.cid}>"
    part.add_header("Content-Disposition", "inline", filename=image.filename)
    part.set_payload(base64.encodebytes(image.data).decode("ascii"))  # 76-character lines, in C
    return part


def assemble_bytes(kind: str, recipient: Recipient, subject: str, text: str, html: str,
                   envelope: Envelope, images: Sequence[InlineImage] = ()) -> bytes:
    """The email as it goes on the wire: multipart/alternative (plain, html[, calendar]) and, with
    an ics, multipart/mixed with an invite.ics attachment too. With images, the html part becomes
    multipart/related (html, image...), the structure Gmail and Outlook show inline.
    The same input gives the same bytes."""
    date = require_aware(envelope.date, "Envelope.date")
    domain = domain_of(envelope.sender_email)
    alternative = MIMEMultipart("alternative", policy=WIRE)
    html_part: Message = _text_part(html, "html")
    if images:
        # RFC 2387: `type` names the root part, the html the images belong to.
        html_part = MIMEMultipart("related", policy=WIRE, type="text/html")
        html_part.attach(_text_part(html, "html"))
        for image in images:
            html_part.attach(_image_part(image))
    parts: list[Message] = [_text_part(text, "plain"), html_part]
    attachment = None
    if envelope.ics is not None:
        ics_text = envelope.ics.decode("utf-8")
        calendar = _text_part(ics_text, "calendar")
        # Gmail and Outlook read the alternative part for their RSVP buttons; other
        # clients only offer the attachment to import.
        calendar.set_param("method", _ics_method(envelope, ics_text))
        parts.append(calendar)
        attachment = MIMEApplication(envelope.ics, "ics", policy=WIRE)
        attachment.add_header("Content-Disposition", "attachment", filename="invite.ics")
    for part in parts:
        alternative.attach(part)
    msg: Message = alternative
    if attachment is not None:
        msg = MIMEMultipart("mixed", policy=WIRE)
        msg.attach(alternative)
        msg.attach(attachment)
    headers = [("From", _address(envelope.sender_name, envelope.sender_email)),
               ("To", _address(recipient.name, recipient.email)),
               ("Subject", subject if subject.isascii() else Header(subject, _HEADER_UTF8).encode(linesep="\r\n")),
               ("Date", format_datetime(date))]
    own_id = message_id(envelope.key, domain)
    headers.append(("Message-ID", own_id))
    if envelope.thread_key:
        root = thread_root_id(envelope.thread_key, domain)
        if root != own_id:
            headers += [("In-Reply-To", root), ("References", root)]
    if envelope.reply_to:
        headers.append(("Reply-To", _address(envelope.sender_name, envelope.reply_to)))
    # RFC 3834: lets vacation responders stay silent; Exchange needs its own header for that.
    headers += [("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "OOF, AutoReply"),
                ("X-Coachd-Kind", kind)]
    if envelope.series_uid:
        headers.append(("X-Coachd-Series", envelope.series_uid))
    if envelope.session_id:
        headers.append(("X-Coachd-Session", envelope.session_id))
    seed = hashlib.sha256(f"boundary:{envelope.key}".encode("utf-8")).hexdigest()[:24]
    for index, part in enumerate(msg.walk()):
        if part is not msg:
            del part["MIME-Version"]  # only the top level carries it
        if part.is_multipart():
            # Boundaries from the key, not random: the same email renders to the same bytes.
            part.set_boundary(f"=_coachd_{seed}_{index}")
    # The message's own headers are written here, ahead of the MIME ones the generator writes: they
    # are ASCII by now (names and subjects as RFC 2047 encoded words), and folding them through the
    # generator was most of the cost of an email.
    return _header_block(headers) + wire_bytes(msg)


def _header_block(headers: list[tuple[str, str]]) -> bytes:
    lines = []
    for name, value in headers:
        # No line break may come from a value (header injection); folded encoded words carry their own.
        unfolded = value.replace("\r\n ", " ")
        if "\r" in unfolded or "\n" in unfolded:
            raise ValueError(f"{name}: a header value cannot contain a line break")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("ascii")


def _address(name: str, address: str) -> str:
    """A From/To value; a name outside ASCII becomes an RFC 2047 encoded word, the address stays as is."""
    return formataddr((name, address), charset=_HEADER_UTF8)


def assemble(kind: str, recipient: Recipient, subject: str, text: str, html: str, envelope: Envelope,
             images: Sequence[InlineImage] = ()) -> EmailMessage:
    """The assembled email as an EmailMessage (read back from its wire bytes), for callers that look inside."""
    raw = assemble_bytes(kind, recipient, subject, text, html, envelope, images)
    message = message_from_bytes(raw, policy=UNFOLDED)
    assert isinstance(message, EmailMessage)
    return message
