"""A calendar that invites attendees itself (Google, Exchange): coachd queues none of its own iTIP mail."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from coachd.model.actions import BookSeries, QueueMail
from coachd.model.observed import Booking, Observed
from coachd.plan.planner import plan

ITIP = {"invitation", "update", "cancellation"}


def kinds(actions) -> Counter[str]:
    return Counter(a.kind for a in actions if isinstance(a, QueueMail))


def bookings(actions) -> list:
    return [a.series for a in actions if isinstance(a, BookSeries)]


@pytest.mark.parametrize("when", [timedelta(0), timedelta(weeks=10)])
def test_booking_the_example_queues_no_invitation_when_the_calendar_sends_them(cfg, start, when):
    now = start + when
    own = plan(cfg, Observed(), now)
    invited = plan(cfg, Observed(), now, calendar_invites=True)
    assert bookings(invited.actions) == bookings(own.actions) != []
    assert kinds(own.actions)["invitation"] > 0, "without the capability coachd invites as it always did"
    assert not ITIP & set(kinds(invited.actions))
    assert kinds(invited.actions) == Counter({k: n for k, n in kinds(own.actions).items() if k not in ITIP})


def test_updates_and_cancellations_are_the_calendars_too(cfg, start):
    series = bookings(plan(cfg, Observed(), start, session_mail=False, program_mail=False).actions)
    coachee = next(s for s in series[2:] if len(s.spec.everyone()) > 1)
    moved = series[0].bumped()
    ended = series[1].bumped(cancelled=True)
    left = replace(coachee, spec=replace(coachee.spec, former=coachee.spec.everyone()[-1:]))
    observed = Observed(bookings={s.spec.key: Booking(s, start) for s in (moved, ended, left)})
    now = moved.occurrences()[0].start - timedelta(hours=1)  # its agenda is due
    own = plan(cfg, observed, now, booking=False, program_mail=False)
    invited = plan(cfg, observed, now, booking=False, program_mail=False, calendar_invites=True)
    assert {"update", "cancellation", "invitation"} <= set(kinds(own.actions))
    assert not ITIP & set(kinds(invited.actions))
    others = Counter({k: n for k, n in kinds(own.actions).items() if k not in ITIP})
    assert kinds(invited.actions) == others and sum(others.values()) > 0, "agendas and the rest still go"


def test_the_path_is_decided_per_attendee_never_both(cfg, start):
    """A calendar that invites only some attendees (Google leaving outside guests to coachd): coachd
    mails its iTIP to exactly the others, for invitations, updates and cancellations alike."""
    series = bookings(plan(cfg, Observed(), start, session_mail=False, program_mail=False).actions)
    emails = sorted({a.email.lower() for s in series for a in s.spec.everyone()})
    by_calendar = set(emails[::2])  # every other person is the calendar's to invite

    def invited(email: str) -> bool:
        return email in by_calendar

    moved = series[0].bumped()
    ended = series[1].bumped(cancelled=True)
    observed = Observed(bookings={s.spec.key: Booking(s, start) for s in (moved, ended, *series[2:])})
    split = plan(cfg, observed, start, booking=False, program_mail=False, calendar_invites=invited)
    own = plan(cfg, observed, start, booking=False, program_mail=False)
    itip = [a for a in split.actions if isinstance(a, QueueMail) and a.kind in ITIP]
    assert itip and all(a.recipient.email.lower() not in by_calendar for a in itip)
    expected = [a for a in own.actions if isinstance(a, QueueMail) and a.kind in ITIP
                and a.recipient.email.lower() not in by_calendar]
    assert sorted(a.key for a in itip) == sorted(a.key for a in expected)
