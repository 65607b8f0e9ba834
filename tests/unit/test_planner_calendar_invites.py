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
