"""The mail Google Calendar sends about a write (sendUpdates), per attendee: what the fake records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.support.fake_google.calendar_rules import invalid, when
from tests.support.fake_google.server import Request

# What makes Google mail an update about an event (not, say, a changed extended property or an answer).
_SIGNIFICANT = ("start", "end", "recurrence", "summary", "description", "location", "status")


@dataclass(frozen=True)
class Mailed:
    """One email Google sent about an event: to whom, what (invitation, update, cancellation), for
    which event (an instance's id for one occurrence), and the calendar change that caused it."""

    attendee: str
    what: str
    event_id: str
    change: int


def mails_for(owner: str, before: dict[str, Any] | None, after: dict[str, Any], send: str,
              change: int) -> list[Mailed]:
    """The mail one write of `owner`'s calendar makes Google send, per attendee, as `send`
    (sendUpdates) allows: externalOnly reaches only addresses outside the owner's domain."""
    if send == "none":
        return []
    owner_domain = owner.rsplit("@", 1)[-1].lower()

    def reached(email: str) -> bool:
        email = email.lower()
        return email != owner.lower() and (send == "all" or email.rsplit("@", 1)[-1] != owner_domain)

    def attendees(body: dict[str, Any] | None) -> set[str]:
        return {a["email"].lower() for a in (body or {}).get("attendees", [])}

    was_live = before is not None and before.get("status") != "cancelled"
    is_live = after.get("status") != "cancelled"
    old, new = (attendees(before) if was_live else set()), (attendees(after) if is_live else set())
    mails: list[tuple[str, str]] = [(e, "invitation") for e in sorted(new - old)]
    mails += [(e, "cancellation") for e in sorted(old - new)]
    if before is not None and was_live and is_live and significant(before, after):
        mails += [(e, "update") for e in sorted(new & old)]
    if before is not None and not was_live and not is_live:
        mails = []
    return [Mailed(email, what, after["id"], change) for email, what in mails if reached(email)]


def send_updates(request: Request) -> str:
    """The request's sendUpdates (none when absent: the insert default sends nothing)."""
    value = request.arg("sendUpdates")
    if value is None:
        # The deprecated boolean still works; with neither, Google sends nothing.
        return "all" if request.arg("sendNotifications") == "true" else "none"
    if value not in ("all", "externalOnly", "none"):
        raise invalid(f"Invalid value for sendUpdates: {value}")
    return value


def significant(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """A change Google tells attendees of: times, rule, title, text, place or status."""
    def times(body: dict[str, Any], name: str) -> datetime | None:
        return when(body[name], name) if name in body else None

    if any(times(before, n) != times(after, n) for n in ("start", "end")):
        return True
    return any(before.get(n) != after.get(n) for n in _SIGNIFICANT if n not in ("start", "end"))
