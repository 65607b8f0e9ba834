"""The pure planner with people whose busy times were never read: their series wait (issue 14, point 4)."""

from __future__ import annotations

from datetime import datetime, timedelta


from coachd.model.actions import BookSeries, QueueMail
from coachd.model.observed import Booking, BusyError, Observed
from coachd.plan.planner import plan

READ = frozenset({"maria", "kenji", "lena", "ana"})  # everyone with a `busy:` calendar


def people(series) -> set[str]:
    return {a.person_id for a in series.spec.everyone()}


def test_a_series_with_someone_never_read_waits_and_says_why(cfg, start):
    observed = Observed(busy_errors={"ana": BusyError("cannot fetch: HTTP 500", start)}, busy_read=READ - {"ana"})
    result = plan(cfg, observed, start)
    booked = [a.series for a in result.actions if isinstance(a, BookSeries)]
    assert booked and not [s for s in booked if "ana" in people(s)]
    assert not [a for a in result.actions if isinstance(a, QueueMail) and a.series_key and a.recipient.person_id == "ana"]
    [waiting] = result.waiting
    assert waiting.person_id == "ana" and waiting.error == "cannot fetch: HTTP 500"
    assert {"group:americas", "individual:ana", "kickoff:americas"} <= set(waiting.series)
    assert waiting.describe().startswith("waiting for busy times of ana: cannot fetch: HTTP 500; not booked")


def test_a_busy_calendar_not_read_yet_is_unknown_too(cfg, start):
    # The store says who was read: lena's calendar never was (no sync has run), so nothing with her is booked.
    result = plan(cfg, Observed(busy_read=READ - {"lena"}), start)
    assert [(w.person_id, w.error) for w in result.waiting] == [("lena", "not read yet")]
    assert not [a for a in result.actions if isinstance(a, BookSeries) and "lena" in people(a.series)]


def test_values_built_by_hand_track_nobody_and_book_as_before(cfg, start):
    result = plan(cfg, Observed(), start)
    assert result.waiting == []
    assert any("lena" in people(a.series) for a in result.actions if isinstance(a, BookSeries))


def test_someone_unknown_joining_a_booked_series_waits_for_their_busy_times(cfg, start):
    team = cfg.teams[0]
    without = cfg.model_copy(update={"teams": [team.model_copy(update={"members": team.members[1:]}),
                                               *cfg.teams[1:]]})
    first = plan(without, Observed(busy_read=READ), start, session_mail=False, program_mail=False)
    bookings = {a.series.spec.key: Booking(a.series, start) for a in first.actions if isinstance(a, BookSeries)}
    later = start + timedelta(days=1)
    joining = team.members[0]  # ana, whose feed fails before it was ever read
    unknown = Observed(bookings=bookings, busy_read=READ - {joining},
                       busy_errors={joining: BusyError("file not found", start)})
    result = plan(cfg, unknown, later, session_mail=False, program_mail=False)
    assert not [a for a in result.actions if isinstance(a, BookSeries) and joining in people(a.series)]
    assert f"group:{team.id}" in result.waiting[0].series
    known = Observed(bookings=bookings, busy_read=READ)
    result = plan(cfg, known, later, session_mail=False, program_mail=False)
    assert [a for a in result.actions if isinstance(a, BookSeries) and a.series.spec.key == f"group:{team.id}"
            and joining in people(a.series)]


def test_nobody_is_waited_for_once_the_program_has_ended(cfg):
    after = datetime.combine(cfg.program.ends + timedelta(days=2), datetime.min.time(), cfg.program.zone)
    observed = Observed(busy_errors={"ana": BusyError("file not found", after)}, busy_read=READ - {"ana"})
    assert plan(cfg, observed, after).waiting == []
