"""What the planner asks the executor to do; each action names itself with a stable key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coachd.model.mail_kinds import MailKind
from coachd.model.types import Attendee, BookedSeries, Occurrence


@dataclass(frozen=True)
class BookSeries:
    """Create or update a series in the organizer's calendar (a new SEQUENCE is a new action)."""

    series: BookedSeries
    reason: str
    # Distinguishes a bookkeeping change that keeps the SEQUENCE (an ended series filed under another
    # key) from the booking of that sequence itself.
    tag: str = ""

    @property
    def key(self) -> str:
        return f"book:{self.series.spec.uid}:{self.series.sequence}" + (f":{self.tag}" if self.tag else "")

    def describe(self) -> str:
        spec = self.series.spec
        return f"book {spec.key} ({spec.rrule() or 'single'}) first {spec.start.isoformat()} seq {self.series.sequence}: {self.reason}"


@dataclass(frozen=True)
class QueueMail:
    """Render one email and put it in the outbox; the send job delivers it."""

    program_id: str
    kind: MailKind
    recipient: Attendee
    subject_ref: str
    due: datetime
    series_key: str | None = None
    occurrence: Occurrence | None = None
    period: tuple[datetime, datetime] | None = None

    @property
    def key(self) -> str:
        return f"mail:{self.program_id}/{self.subject_ref}/{self.kind}/{self.recipient.person_id}"

    @property
    def session_id(self) -> str | None:
        return self.occurrence.session_id if self.occurrence else None

    def describe(self) -> str:
        return f"queue {self.kind} to {self.recipient.person_id} for {self.subject_ref} (due {self.due.isoformat()})"


Action = BookSeries | QueueMail
