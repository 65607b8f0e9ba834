"""Numbers add up: a small program with known sessions, attendance, feedback, actions and outcomes,
and every figure of its digest compared with what those facts say it must be (issue 7 point 4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from coachd.mail import contexts
from coachd.config.loader import load_config_text
from coachd.model.actions import BookSeries, QueueMail
from coachd.plan.calendar_truth import Decline
from coachd.model.observed import Booking, Observed, ReplyFact
from coachd.model.periods import digest_periods
from coachd.plan.planner import plan
from coachd.model.types import UTC, BookedSeries, Occurrence, Override
from coachd.mail.compose import Composer
from coachd.reporting.figures import program_figures
from tests.support.digest_program import CONFIG

ZONE = "America/Chicago"
NOW = datetime(2027, 3, 10, 12, tzinfo=UTC)  # well after both periods


@pytest.fixture(scope="module")
def cfg():
    return load_config_text(CONFIG, Path("/tmp/figures.yaml"))


def _booked(cfg) -> dict[str, BookedSeries]:
    result = plan(cfg, Observed(), datetime(2027, 1, 1, tzinfo=UTC), session_mail=False, program_mail=False)
    return {a.series.spec.key: a.series for a in result.actions if isinstance(a, BookSeries)}


def _occurrences(series: BookedSeries, start: datetime, end: datetime) -> list[Occurrence]:
    return [o for o in series.occurrences() if start <= o.start < end]


def _reply(kind: str, occurrence: Occurrence | None, person: str, at: datetime, rating: int | None = None,
           **payload) -> ReplyFact:
    return ReplyFact(kind, occurrence.session_id if occurrence else None, person, at, rating, payload)


def _goals(n: int, person: str, at: datetime, rating: int) -> ReplyFact:
    """An answer to the n-th goal check-in (which is about no session: its request key tells them apart)."""
    return ReplyFact("goal-check-in", None, person, at, rating, {"text": "on it"},
                     f"mail:figures/goals-{n}/goal-check-in/{person}")


@pytest.fixture(scope="module")
def program(cfg):
    """The facts of the program, and the figures they must give."""
    periods = digest_periods(cfg)
    first, second = periods[0], periods[1]
    booked = _booked(cfg)
    group = booked["group:core"]
    weeks = _occurrences(group, *first)
    assert len(weeks) == 3, "group sessions on weeks 1-3 of the first four-week period"
    cancelled, moved, declined = weeks
    # One group session cancelled, one moved a day later, both in the calendar as overrides.
    group = replace(group, overrides=(
        Override(cancelled.recurrence_id, cancelled.start, cancelled.end, cancelled=True),
        Override(moved.recurrence_id, moved.start + timedelta(days=1), moved.end + timedelta(days=1)),
    ))
    booked["group:core"] = group
    moved = next(o for o in group.occurrences() if o.recurrence_id == moved.recurrence_id)
    one_to_ones = {p: _occurrences(booked[f"individual:{p}"], *first) for p in ("ann", "bob", "cy")}
    assert [len(one_to_ones[p]) for p in ("ann", "bob", "cy")] == [2, 1, 2]
    kickoff = _occurrences(booked["kickoff:core"], *first)
    assert len(kickoff) == 1
    cy_missed = one_to_ones["cy"][-1]
    declines = {
        declined.session_id: Decline(declined.start, frozenset({"bob"})),   # bob declined the third group session
        cy_missed.session_id: Decline(cy_missed.start, frozenset({"cy"})),  # cy his last one-to-one
    }
    day = timedelta(days=1)
    ann_first = one_to_ones["ann"][0]
    replies = [
        # The moved group session: cy named absent in the notes, two actions; three ratings.
        _reply("notes-request", moved, "cora", moved.end + day, actions=[
            {"owner": "Ann", "text": "send the revised proposal", "due": "2027-01-29"},
            {"owner": "Bob", "text": "map the stakeholders", "due": "2027-03-01"}], absent=["Cy"]),
        _reply("feedback-request", moved, "ann", moved.end + day, 4),
        _reply("feedback-request", moved, "bob", moved.end + day, 5),
        _reply("feedback-reminder", moved, "cy", moved.end + 3 * day, 3),
        # Ann's first one-to-one: one action, overdue by the period's end; her rating corrected later.
        _reply("notes-request", ann_first, "cora", ann_first.end + day, actions=[
            {"owner": "Ann", "text": "call Contoso's CFO", "due": "2027-01-15"}]),
        _reply("feedback-request", ann_first, "ann", ann_first.end + day, 2),
        _reply("feedback-request", ann_first, "ann", ann_first.end + 2 * day, 4),
        # The third group session: the proposal is done.
        _reply("notes-request", declined, "cora", declined.end + day, actions=[], done=["Ann: proposal sent"]),
    ]
    second_group = _occurrences(group, *second)
    assert len(second_group) == 4
    replies += [_reply("feedback-request", second_group[0], p, second_group[0].end + day, 5)
                for p in ("ann", "bob", "cy")]
    goals_due = datetime(2027, 2, 1, 15, tzinfo=UTC)
    replies += [_goals(1, p, goals_due + day, r) for p, r in (("ann", 2), ("bob", 3), ("cy", 4))]
    observed = Observed(bookings={k: Booking(s, datetime(2027, 1, 1, tzinfo=UTC)) for k, s in booked.items()},
                        replies=replies, declines=declines)
    return {"periods": periods, "observed": observed, "one_to_ones": one_to_ones, "cy_missed": cy_missed}


@pytest.fixture(scope="module")
def figures(cfg, program):
    first = program["periods"][0]
    return program_figures(cfg, program["observed"], *first, NOW)


def test_sessions_planned_held_moved_cancelled(figures):
    rows = {r["kind"]: r for r in figures["sessions"]["rows"]}
    counts = ("planned", "held", "moved", "cancelled", "to_come")
    assert {k: [rows[k][c] for c in counts] for k in rows} == {
        "kickoff": [1, 1, 0, 0, 0], "group": [3, 2, 1, 1, 0], "individual": [5, 5, 0, 0, 0]}
    assert [figures["sessions"]["total"][c] for c in counts] == [9, 8, 1, 1, 0]
    assert (figures["period_start"], figures["period_end"]) == (date(2027, 1, 4), date(2027, 1, 31))


def test_attendance_per_team_counts_declines_and_absences_in_notes(figures):
    (team,) = figures["teams"]
    # Two group sessions held, three coachees each; cy absent (notes) from one, bob declined the other.
    assert (team["held"], team["planned"], team["expected"], team["attended"]) == (2, 3, 6, 4)
    assert team["attendance_rate"] == pytest.approx(4 / 6, abs=0.001)


def test_feedback_rate_average_and_its_trend(cfg, program, figures):
    feedback = figures["feedback"]
    # Asked: kickoff 3 + two held group sessions x 3 + five one-to-ones x 1 = 14. Answered: 3 on the
    # moved session, and Ann's one-to-one once (her correction replaces her first answer).
    assert (feedback["requests"], feedback["responses"], feedback["people"]) == (14, 4, 3)
    assert feedback["response_rate"] == pytest.approx(4 / 14, abs=0.001)
    assert feedback["average_rating"] == 4.0  # (4 + 5 + 3 + 4) / 4
    assert feedback["trend"] == {"response_rate": None, "average_rating": None}, "nothing before the first period"
    later = program_figures(cfg, program["observed"], *program["periods"][1], NOW, previous=program["periods"][0])
    # Second period: four group sessions x 3 + six one-to-ones = 18 asked, 3 answered with a 5.
    assert (later["feedback"]["requests"], later["feedback"]["responses"]) == (18, 3)
    assert later["feedback"]["average_rating"] == 5.0
    assert later["feedback"]["trend"]["average_rating"] == pytest.approx(1.0)
    assert later["feedback"]["trend"]["response_rate"] == pytest.approx(round(3 / 18, 3) - round(4 / 14, 3))


def test_action_items_opened_done_and_overdue(figures):
    # Three opened; the proposal done; "call Contoso's CFO" (due Jan 15) still open and overdue at the period's end.
    assert figures["actions"] == {"opened": 3, "done": 1, "open": 2, "overdue": 1}


def test_coaching_hours_against_the_target_share(figures):
    (row,) = figures["coaching"]["rows"]
    # Kickoff 1.5 h + two group sessions 1 h + four one-to-ones 0.5 h: the one cy declined was no coaching.
    assert row["hours"] == pytest.approx(5.5)
    assert row["working_hours"] == pytest.approx(20 * 8)  # 20 weekdays of 09:00-17:00
    assert row["share"] == pytest.approx(5.5 / 160, abs=0.001)
    assert figures["coaching"]["target"] == pytest.approx(0.1) and row["on_target"] is False


def test_days_since_the_last_one_to_one_skip_a_missed_one(program, figures):
    rows = {r["id"]: r for r in figures["consistency"]["rows"]}
    end = date(2027, 2, 1)
    local = {p: [o.start.astimezone(__import__("zoneinfo").ZoneInfo(ZONE)).date() for o in os]
             for p, os in program["one_to_ones"].items()}
    assert rows["ann"]["days_since"] == (end - local["ann"][-1]).days
    assert rows["bob"]["days_since"] == (end - local["bob"][-1]).days
    assert rows["cy"]["last"] == local["cy"][0], "cy declined his last one: the one before counts"
    assert rows["cy"]["days_since"] == (end - local["cy"][0]).days
    assert figures["consistency"]["cadence_days"] == 14
    assert [r["behind"] for r in rows.values()] == [(end - local[p][-1 if p != "cy" else 0]).days > 21
                                                     for p in ("ann", "bob", "cy")]


def test_outcomes_goal_check_ins_and_recognition(cfg, program, figures):
    win, plans = figures["outcomes"]
    assert (win["latest"], win["measured_on"], win["progress"]) == (24, date(2027, 1, 20), pytest.approx(0.25))
    assert plans["text"] == "Account plans for every top-5 account" and plans["latest"] is None
    assert figures["goal_check_ins"] == {"asked": 0, "answered": 0, "average": None, "suppressed": False}
    later = program_figures(cfg, program["observed"], *program["periods"][1], NOW)
    assert later["goal_check_ins"] == {"asked": 3, "answered": 3, "average": 3.0, "suppressed": False}
    # Ann attended all four of her sessions; cy half of his; bob had too few to judge.
    assert figures["recognition"] == {"allowed": True, "most_consistent": ["Ann Avery"], "most_improved": []}


def test_the_digest_email_shows_the_figures(cfg, program):
    periods = program["periods"]
    sam = next(p for p in cfg.people if p.id == "sam")
    from coachd.plan.series import attendee
    from coachd.model.types import Role

    mail = QueueMail("figures", "digest", attendee(cfg, "sam", Role.SPONSOR), "digest-1", periods[1][0],
                     period=periods[0])
    context = contexts.build(cfg, program["observed"], mail, NOW)
    rendered = Composer().render("digest", mail.recipient, context)
    text = " ".join(rendered.text.split())
    assert "Team sessions 3 2 1 1 0" in text
    assert "Core Team 2/3 held 67% (4 of 6 places)" in text
    assert "4 of 14 feedback requests answered (29%)" in text
    assert "Average rating 4.0 out of 5 from 3 people" in text
    assert "3 opened, 1 done in this period; 2 open, 1 of them overdue" in text
    assert "Win rate from 22% to 30%: 24% on Wed 20 Jan 2027 (from 22% towards 30%; 25% of the way)" in text
    assert "Most consistent: Ann Avery" in text
    assert rendered.text.splitlines()[0] == f"Hello {sam.name.split()[0]},"  # greeted by first name


def test_an_action_written_again_is_carried_and_a_done_line_closes_the_one_it_resembles():
    from coachd.reporting.action_items import NotesEntry, track

    day = datetime(2027, 1, 11, tzinfo=UTC)
    items = track([
        NotesEntry("g", day, [{"owner": "Ann", "text": "send the revised proposal", "due": "2027-01-15"},
                              {"owner": "Bob", "text": "map the stakeholders at Contoso", "due": None}]),
        NotesEntry("g", day + timedelta(days=7),
                   [{"owner": "Ann", "text": "send the revised proposal", "due": "2027-01-22"}],
                   done=["Bob: Contoso stakeholder map", "something nobody was asked to do"]),
        NotesEntry("other", day + timedelta(days=8), [], done=["revised proposal"]),  # another series
    ])
    assert [(i.owner, i.due, i.done_at) for i in items] == [
        ("Ann", date(2027, 1, 22), None),  # carried forward with its new due date, still open
        ("Bob", None, day + timedelta(days=7)),
    ]


def test_a_late_answer_never_tilts_the_trend(cfg, program):
    """The previous period is read as it stood as long after its end as this one is read after its own."""
    kickoff = _occurrences(_booked(cfg)["kickoff:core"], *program["periods"][0])[0]
    late = ReplyFact("feedback-request", kickoff.session_id, "ann", datetime(2027, 2, 20, tzinfo=UTC), 5, {})
    observed = replace(program["observed"], replies=[*program["observed"].replies, late])
    first, second = program["periods"][:2]
    assert program_figures(cfg, observed, *first, NOW)["feedback"]["responses"] == 5, "read today, it counts"
    sent_at = second[1] + timedelta(hours=8)
    later = program_figures(cfg, observed, *second, sent_at, previous=first)
    assert later["feedback"]["previous"]["response_rate"] == pytest.approx(4 / 14, abs=0.001), (
        "as the last digest showed it: the answer came after that digest")


def test_goal_check_ins_are_credited_to_their_ask_and_show_who_improved(cfg, program):
    first, second, third = program["periods"][:3]
    goals_2 = datetime(2027, 3, 1, 15, tzinfo=UTC)
    replies = [*program["observed"].replies,
               _goals(1, "ann", datetime(2027, 3, 3, tzinfo=UTC), 3),  # a second answer to the first ask
               _goals(2, "ann", goals_2 + timedelta(days=2), 5),
               _goals(2, "bob", goals_2 + timedelta(days=2), 3)]
    observed = replace(program["observed"], replies=replies)
    now = datetime(2027, 4, 1, tzinfo=UTC)
    february = program_figures(cfg, observed, *second, now)
    # Ann's later answer to the February ask replaces her first; it still belongs to February.
    assert february["goal_check_ins"] == {"asked": 3, "answered": 3, "average": pytest.approx(10 / 3, abs=0.01),
                                          "suppressed": False}
    march = program_figures(cfg, observed, *third, now)
    assert march["goal_check_ins"] == {"asked": 3, "answered": 2, "average": None, "suppressed": True}
    assert march["recognition"]["most_improved"] == ["Ann Avery"], "3 then 5: the largest rise"


def test_a_digest_reaches_a_reader_far_east_only_after_its_period_ends(cfg, program):
    tokyo = load_config_text(CONFIG.replace("email: sam@figures.example,  timezone: America/New_York",
                                            "email: sam@figures.example,  timezone: Asia/Tokyo"), Path("/tmp/t.yaml"))
    first = program["periods"][0]
    digests = [a for a in plan(tokyo, program["observed"], first[1] + timedelta(days=2), booking=False).actions
               if isinstance(a, QueueMail) and a.kind == "digest"]
    (digest,) = [d for d in digests if d.period == first]
    # The period ends at midnight in Chicago, 15:00 in Tokyo: the digest waits for the next Tokyo morning.
    assert digest.due >= first[1]
    assert digest.due.astimezone(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None) == datetime(2027, 2, 2, 8, 0)


def test_a_team_dropped_from_the_config_keeps_its_row_while_its_sessions_count(cfg, program):
    renamed = load_config_text(CONFIG.replace("{id: core, name: Core Team", "{id: main, name: Main Team"),
                               Path("/tmp/r.yaml"))
    figures = program_figures(renamed, program["observed"], *program["periods"][0], NOW)
    rows = {t["id"]: t for t in figures["teams"]}
    group = next(r for r in figures["sessions"]["rows"] if r["kind"] == "group")
    assert rows["core"]["held"] == group["held"] == 2 and rows["core"]["name"] == "core"
    assert rows["main"]["planned"] == 0


def test_a_reading_after_the_period_is_not_shown_in_it(figures):
    win = figures["outcomes"][0]
    assert (win["latest"], win["measured_on"]) == (24, date(2027, 1, 20)), "the 1 February reading is next month's"
