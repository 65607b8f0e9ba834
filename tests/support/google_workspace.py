"""A whole Google Workspace for end-to-end tests: the fake's token endpoint, Calendar, free/busy and Gmail
on one virtual clock, the example program configured with all four roles on Google (a delegated service
account), and the people in it, who answer coachd's mail as a person would: by replying to the address
coachd gave them (Reply-To), from their own address, some time later."""

from __future__ import annotations

import email
import email.policy
import email.utils
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from coachd.runtime.clock import VirtualClock
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.calendar import FakeCalendar
from tests.support.fake_google.calendar_rules import when
from tests.support.fake_google.freebusy import FakeFreeBusy
from tests.support.fake_google.gmail import FakeGmail
from tests.support.fake_google.oauth import FakeOAuth
from tests.support.google_auth import CALENDAR, FREEBUSY, GMAIL_MODIFY, GMAIL_SEND, ORGANIZER, GoogleSetup

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
WORKSPACE_DOMAIN = "northwind.example"


class SessionsInCalendars:
    """People's free/busy as a Workspace derives it: every live, opaque event of the organizer's calendar
    they attend and have not declined (coachd's sessions among them), read from the fake Calendar itself.
    Expanded once per calendar change, since free/busy is asked far more often than the calendar changes."""

    def __init__(self, calendar: FakeCalendar, owner: str) -> None:
        self.calendar = calendar
        self.owner = owner
        self._seen: int | None = None
        self._spans: dict[str, list[tuple[datetime, datetime]]] = {}

    def __call__(self, address: str, start: datetime, end: datetime) -> Iterable[tuple[datetime, datetime]]:
        with self.calendar.fake.lock:  # called by the free/busy route, which holds it already (an RLock)
            data = self.calendar.calendar(self.owner)
            if self._seen != data.change:
                self._spans = self._expand()
                self._seen = data.change
        return [(s, e) for s, e in self._spans.get(address.lower(), ()) if s < end and e > start]

    def _expand(self) -> dict[str, list[tuple[datetime, datetime]]]:
        data = self.calendar.calendar(self.owner)
        spans: dict[str, list[tuple[datetime, datetime]]] = {}
        for stored in data.events.values():
            body = stored.body
            if stored.deleted or body.get("status") == "cancelled" or "recurringEventId" in body:
                continue  # exceptions come with their master's expansion
            instances = self.calendar._expand(data, body) if body.get("recurrence") else [body]
            for instance in instances:
                if instance.get("status") == "cancelled" or instance.get("transparency") == "transparent":
                    continue
                start, end = when(instance["start"], "start"), when(instance["end"], "end")
                for attendee in instance.get("attendees", []):
                    if attendee.get("responseStatus") != "declined":
                        spans.setdefault(attendee["email"].lower(), []).append((start, end))
        return spans


@dataclass
class Delivery:
    at: datetime
    to: str  # the Reply-To address coachd gave
    raw: bytes
    message_id: str


# What each person answers to each kind of email coachd asks them something with.
ANSWERS = {
    "feedback-request": "Rating: 4\n1. The role play on pricing\n2. More time on objections\n3. Yes\n"
                        "Repeat: role plays\nAvoid: running late\n",
    "agenda": "Topics:\n- Pricing objections on the Q2 renewals\n",
    "notes-request": "Conclusions:\n- Lead with value\nActions:\n- Send the pricing deck\n",
}


@dataclass
class Participants:
    """The program's people reading coachd's mail in the organizer's Sent folder and replying to what asks
    them something, `delay` after it was sent; each email is answered once, by whoever it was sent to."""

    gmail: FakeGmail
    delay: timedelta = timedelta(hours=2)
    answered: set[str] = field(default_factory=set)
    pending: list[Delivery] = field(default_factory=list)
    delivered: list[Delivery] = field(default_factory=list)
    # Off: what is sent from now on goes unanswered (replies already written still arrive).
    answering: bool = True
    _read: int = 0  # how much of Sent was read already (Sent only grows)

    def read_sent(self, now: datetime) -> None:
        if not self.answering:
            return
        sent = self.gmail.sent_by(ORGANIZER)
        new, self._read = sent[self._read:], len(sent)
        for raw in new:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            kind, message_id = str(message["X-Coachd-Kind"] or ""), str(message["Message-ID"])
            if kind not in ANSWERS or message_id in self.answered:
                continue
            self.answered.add(message_id)
            self.pending.append(self._reply(message, ANSWERS[kind], now + self.delay))
        self.pending.sort(key=lambda d: d.at)

    def deliver_due(self, now: datetime) -> bool:
        """Deliver into Gmail what is due by `now`; whether anything arrived."""
        due = [d for d in self.pending if d.at <= now]
        for delivery in due:
            self.pending.remove(delivery)
            self.gmail.deliver(delivery.to, delivery.raw, at=delivery.at)
            self.delivered.append(delivery)
        return bool(due)

    def next_at(self) -> datetime | None:
        return self.pending[0].at if self.pending else None

    def _reply(self, request: EmailMessage, body: str, at: datetime) -> Delivery:
        name, sender = email.utils.parseaddr(str(request["To"]))
        reply_to = email.utils.parseaddr(str(request["Reply-To"] or request["From"]))[1]
        message_id = email.utils.make_msgid(domain=sender.rsplit("@", 1)[-1])
        reply = EmailMessage()
        reply["From"] = email.utils.formataddr((name, sender))
        reply["To"] = reply_to
        reply["Subject"] = f"Re: {request['Subject']}"
        reply["Date"] = email.utils.format_datetime(at)
        reply["Message-ID"] = message_id
        reply["In-Reply-To"] = str(request["Message-ID"])
        reply["References"] = str(request["Message-ID"])
        reply.set_content(body + "\nOn a weekday, Coaching wrote:\n> the request\n")
        return Delivery(at, reply_to, bytes(reply), message_id)


class GoogleWorkspace:
    """The fake Google, started, on `clock`: OAuth with a service account delegated the four roles' scopes
    (gmail.readonly too, for the sender's look in Sent), Calendar, free/busy of the Workspace's domain
    with people's sessions in it, and the organizer's Gmail."""

    def __init__(self, folder: Path, clock: VirtualClock, *, seed: int = 0, page_size: int = 20) -> None:
        self.folder = folder
        self.clock = clock
        self.fake = FakeGoogle(now=clock.now, page_size=page_size, seed=seed).start()
        self.oauth = FakeOAuth(self.fake)
        self.calendar = FakeCalendar(self.fake)
        self.freebusy = FakeFreeBusy(self.fake, domains=[WORKSPACE_DOMAIN],
                                     extra_busy=SessionsInCalendars(self.calendar, ORGANIZER))
        self.gmail = FakeGmail(self.fake)
        self.gmail.mailbox(ORGANIZER)
        self.oauth.users.add(ORGANIZER)
        account = self.oauth.add_service_account(
            delegated=(CALENDAR, FREEBUSY, GMAIL_SEND, GMAIL_READONLY, GMAIL_MODIFY))
        self.oauth.key_file(folder / "key.json", account)
        self.participants = Participants(self.gmail)

    def config(self, extra: str = "") -> Path:
        """The example program with calendar, busy, send and receive on Google, the sender reading Sent;
        `extra` is appended (YAML at the top level, e.g. a `daemon:` block)."""
        setup = GoogleSetup(self.fake, self.oauth, self.folder)
        path = setup.config(setup.service_auth(), roles=("calendar", "busy", "send", "receive"))
        text = path.read_text().replace("send: {provider: gmail,", "send: {provider: gmail, read_sent: true,", 1)
        path.write_text(text + extra)
        return path

    def stop(self) -> None:
        self.fake.stop()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
