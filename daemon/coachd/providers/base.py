"""Provider Protocols (calendar, busy times, mail out, mail in), their values and their errors."""

from __future__ import annotations

import email.message
import email.policy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from coachd.model.types import BookedSeries, Interval, Override

# --- errors -------------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every error a provider raises on purpose."""


# What went wrong, the same for every role (calendar, busy, send, receive), so that callers decide
# by kind and never by provider. providers/retry.py is the one retry policy that reads them.


class Transient(ProviderError):
    """A failure that may pass by itself (network, timeout, a 5xx, a full disk).

    The caller retries it with the retry policy (providers/retry.py: backoff with jitter, bounded);
    when the attempts run out, it logs it with the key of what failed, skips that one piece of
    work and goes on with the rest: the next tick tries it again.
    """


class Throttled(Transient):
    """The service asked to slow down (HTTP 429, Google's rateLimitExceeded, Graph's Retry-After).

    Handled as Transient, except that the next attempt waits at least `retry_after` (None when the
    service did not say how long).
    """

    def __init__(self, message: str, retry_after: timedelta | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExhausted(Throttled):
    """A quota for the day (or another long period) is spent: Google's 403 `quotaExceeded`.

    Never retried within a pass, however soon `retry_after` says it resets (a quota that resets in
    a minute is still not worth holding a job for); the role waits until then (runtime/provider_health.py).
    """


class Permanent(ProviderError):
    """The same call will fail the same way however often it is made (a refused address, a request
    the service rejects, an object it cannot hold).

    Never retried: the caller logs it with the key of what failed (or parks it, as the outbox
    does), skips it and goes on with the rest.
    """


class CredentialsExpired(ProviderError):
    """The provider's credentials were revoked, expired past refreshing, or never granted: a person
    must log in again (`coachd auth ...`).

    Never retried in a loop: the caller stops that role's work for the pass, records it where
    `coachd status` shows it (runtime/provider_health.py), says it once in the log, and tries again
    only when the credential store changes or an hour has passed.
    """

    def __init__(self, message: str, role: str | None = None):
        super().__init__(message)
        self.role = role


class ProviderUnavailable(ProviderError):
    """The config names a provider this build of coachd does not implement (yet)."""


class UnknownProvider(ProviderError, ValueError):
    """The config names a provider coachd has never heard of, or gives it options it does not take."""


class SyncCursorExpired(ProviderError):
    """The sync cursor is unknown, garbled or too old: drop the local copy and sync again from None.

    Google answers 410 `fullSyncRequired`, Graph 410 `SyncStateNotFound`.
    """


class SeriesNotFound(Permanent, LookupError):
    """No series with that UID exists in the calendar."""

    def __init__(self, uid: str):
        super().__init__(f"no series with UID {uid!r} in the calendar")
        self.uid = uid


class CalendarStoreError(Permanent):
    """The calendar holds something for that UID that cannot be read or changed."""


class BusySourceError(ProviderError):
    """A person's busy times could not be read (missing file, HTTP error, unparsable calendar)."""

    def __init__(self, person_id: str, source: str, message: str):
        super().__init__(f"busy times of {person_id!r} from {source}: {message}")
        self.person_id = person_id
        self.source = source
        self.message = message


class SendError(ProviderError):
    """A message was not sent."""


class PermanentSendError(SendError, Permanent):
    """Sending this message will never work as it is (bad address, malformed message): do not retry."""


class TransientSendError(SendError, Transient):
    """Sending failed for a reason that may pass (network, rate limit, full disk): retry with backoff."""


# --- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarEntry:
    """A series as the calendar holds it now, whoever last changed it (coachd or a person).

    `start`/`end` are the master's first occurrence in `timezone` (IANA); `exdates` and
    `overrides` are in UTC, as `SeriesSpec.occurrences` uses them; `rrule` is in icalendar's
    canonical text form (compare with `coachd.mail.ical.canonical_rrule(spec.rrule())`);
    `attendees` maps lower-case email to PARTSTAT; `key` is our X-COACHD-KEY (Google:
    extendedProperties.private) when the entry is ours; `raw` is the provider's own form.
    """

    uid: str
    sequence: int
    cancelled: bool
    start: datetime
    end: datetime
    timezone: str
    rrule: str | None
    exdates: tuple[datetime, ...] = ()
    overrides: tuple[Override, ...] = ()
    attendees: Mapping[str, str] = field(default_factory=dict)
    # Occurrences with their own event (UTC RECURRENCE-ID): lower-case email -> PARTSTAT for that one
    # (Google: the instance's attendees[].responseStatus; Graph: the exception's attendees).
    occurrence_attendees: Mapping[datetime, Mapping[str, str]] = field(default_factory=dict)
    key: str | None = None
    kind: str | None = None
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SyncResult:
    """What changed since a cursor: entries (created, updated or cancelled), UIDs gone, the next cursor.

    `errors` lists (where, message) for things the provider saw but could not read
    (a hand-broken .ics file); they never stop a sync.
    """

    entries: list[CalendarEntry]
    deleted_uids: list[str]
    cursor: str
    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class InboundMessage:
    """One message in an inbox: `ref` stays the same for it while it stays in that mailbox."""

    ref: str
    raw: bytes = field(repr=False)


# --- protocols ------------------------------------------------------------------------------------


@runtime_checkable
class CalendarProvider(Protocol):
    """The organizer's calendar, where booked series live (Google Calendar, Graph, a local folder)."""

    # What this calendar does by itself (see CalendarCapabilities): declared by each implementation.
    capabilities: CalendarCapabilities

    def upsert_series(
        self, series: BookedSeries, organizer_name: str, organizer_email: str, *, dtstamp: datetime
    ) -> None:
        """Create the series, or replace what the calendar holds under its UID, overrides included.

        Idempotent: the same input twice leaves the same state (Google: insert with our id,
        409 `duplicate` -> update; Graph: `transactionId`). `dtstamp` is when the series was
        booked, so that an unchanged series is written unchanged. Raises a ProviderError
        (CalendarStoreError or the implementation's own subclass) when the calendar cannot be
        written; nothing is half-written.
        """
        ...

    def cancel_series(self, uid: str) -> None:
        """Mark the whole series cancelled (STATUS:CANCELLED), keeping it visible where the store can.

        Cancelling an already cancelled series does nothing. Raises SeriesNotFound when the
        calendar never held that UID, CalendarStoreError when what it holds cannot be changed.
        SEQUENCE is left as it is: the caller owns sequence numbers (to record a new one,
        upsert `series.bumped(cancelled=True)` instead).
        """
        ...

    def list_series(self) -> list[CalendarEntry]:
        """Every series the calendar holds (cancelled ones included), sorted by UID."""
        ...

    def sync(self, cursor: str | None) -> SyncResult:
        """Entries changed since `cursor` (all of them for None), UIDs removed, and the next cursor.

        The cursor is opaque (Google `nextSyncToken`, Graph `deltaLink`). Raises
        SyncCursorExpired when the cursor cannot be used: call again with None.
        """
        ...


@runtime_checkable
class BusySource(Protocol):
    """When people are busy (Google freebusy.query, Graph getSchedule, ICS files or feeds)."""

    def busy(self, person_id: str, window: Interval) -> list[Interval]:
        """One person's busy time inside `window`: sorted, non-overlapping, clipped to the window, UTC.

        A person the source knows nothing about has no known busy time: []. Raises
        BusySourceError when the person's calendar exists but cannot be read.
        """
        ...

    def busy_many(self, person_ids: Iterable[str], window: Interval) -> dict[str, list[Interval]]:
        """`busy` for several people (one call where the service allows it), keyed by every id asked for.

        Raises BusySourceError for the first person whose calendar cannot be read.
        """
        return {person_id: self.busy(person_id, window) for person_id in person_ids}


# (envelope sender, envelope recipients): SMTP's MAIL FROM and RCPT TO.
SmtpEnvelope = tuple[str, Sequence[str]]


@runtime_checkable
class MailSender(Protocol):
    """Hands finished messages to a mail system (a folder of .eml files, SMTP, Gmail, Graph sendMail)."""

    def send(self, message: email.message.EmailMessage, key: str) -> None:
        """Send `message` once per `key` (the outbox key): a second send with the same key does nothing
        where the system can tell (file sender: always; Graph: transactionId).

        Raises PermanentSendError when retrying cannot help, TransientSendError when it may.
        """
        ...

    def send_raw(self, raw: bytes, key: str, envelope: SmtpEnvelope | None = None) -> None:
        """Send the outbox's stored RFC 5322 bytes, as they are. Senders that hand bytes on (a file,
        SMTP's DATA, Gmail's raw, Graph's MIME) override this to skip re-parsing the message.

        `envelope` is the sender and recipients the outbox recorded when it queued the message, as
        a mail queue keeps them beside the message; without it an SMTP sender reads them from the
        headers (From; To, Cc and Bcc)."""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.send(message, key)

    def close(self) -> None:
        """The end of a batch: release a connection kept open across its sends (SMTP). Default: nothing."""

    def was_sent(self, message_id: str, key: str) -> bool | None:
        """Optional capability: whether the message with this Message-ID (outbox `key`) reached the
        mail system, asked after a crash left its send's outcome unknown. True: it did, it is not
        sent again; False: it did not, it is sent; None (the default): this sender cannot tell, the
        outbox sends it again and counts it as possibly arrived twice (`coachd status`).

        Implemented by the file sender (the file is there or not) and the smtp sender when an IMAP
        Sent folder is configured. Hooks to come: Gmail (messages.list q="rfc822msgid:<id>", issue
        17) and Graph (sentItems filtered on internetMessageId, issue 18). An implementation that
        cannot reach what it asks returns None, never False: False lets the email go out again."""
        return None


@runtime_checkable
class Inbox(Protocol):
    """Where replies arrive (a Maildir, IMAP, Gmail, Graph)."""

    def fetch(self) -> Iterator[InboundMessage]:
        """Messages not yet marked processed, oldest delivery first where the mailbox knows it.

        Bytes are returned exactly as stored, malformed or not: parsing is the caller's job.
        """
        ...

    def mark_processed(self, ref: str) -> None:
        """Record that `ref` was handled so fetch() no longer yields it; never deletes the message.

        Marking twice does nothing more. Raises KeyError for a ref the mailbox does not hold.
        """
        ...


# --- capabilities and the busy role ------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarCapabilities:
    """What a calendar does by itself, declared by its implementation and never guessed.

    `invites_attendees`: booking a series there invites its attendees and tells them of updates and
    cancellations (Google with sendUpdates, Exchange always), so coachd sends none of its own.
    `invited_by_calendar`: when the calendar invites only some of them (Google leaving guests outside
    the Workspace to coachd's iTIP mail), which ones, by lower-case address; None: all of them.
    `hand_edits`: a person can change a series there by hand and sync shows the change.
    """

    invites_attendees: bool
    hand_edits: bool
    invited_by_calendar: Callable[[str], bool] | None = field(default=None, compare=False)

    def invites(self, email: str) -> bool:
        """Whether the calendar itself invites this attendee (and mails them updates and cancellations):
        then coachd mails them none of its own. One invitation path per attendee, never two."""
        if not self.invites_attendees:
            return False
        return self.invited_by_calendar is None or self.invited_by_calendar(email.lower())


@dataclass(frozen=True)
class BusyLimits:
    """How much one busy-times request may ask: the longest window and the most people (None: no limit)."""

    max_window: timedelta | None = None
    max_batch: int | None = None


@dataclass(frozen=True)
class BusyPerson:
    """Someone whose busy times are asked for: the program's person id and their address."""

    id: str
    email: str


class BusyTimes(dict[str, list[Interval]]):
    """person id -> busy intervals (sorted, non-overlapping, UTC), for everyone whose times were read.

    `failures` holds, by person id, why someone's times could not be read; those people are absent
    from the mapping, so a caller keeps what it knew of them rather than take them as free.
    """

    def __init__(self, times: Mapping[str, list[Interval]] | None = None,
                 failures: Mapping[str, ProviderError] | None = None) -> None:
        super().__init__(times or {})
        self.failures: dict[str, ProviderError] = dict(failures or {})


@runtime_checkable
class BusyProvider(Protocol):
    """The busy role: free/busy of many people over a window (Google freebusy.query, Graph getSchedule,
    or each person's ICS file or feed), asked within the provider's declared `limits`.

    A provider whose answers come from people's own calendars, where the sessions coachd booked are
    too (Google free/busy, Graph getSchedule), declares `shows_sessions = True`; the planner then cuts
    each person's booked occurrences out of their busy times (coachd.plan.own_sessions). Optional: a
    provider without it is read as False (not part of the Protocol, so existing providers still match)."""

    limits: BusyLimits

    def busy(self, people: Sequence[BusyPerson], window: Interval) -> BusyTimes:
        """Busy times of `people` inside `window`, clipped to it. The caller keeps to `limits`
        (see coachd.providers.busy.ask_within_limits); a person who cannot be read is a failure
        in the answer, never an exception that loses the others."""
        ...
