"""The quarterly sponsor-review pack, the wrap-up survey and the final report (issue 7 point 5)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from coachd.mail import contexts
from coachd.config.loader import load_config_text
from coachd.model.actions import BookSeries, QueueMail
from coachd.model.observed import Booking, Observed, ReplyFact
from coachd.plan.planner import REVIEW_PACK_BEFORE, WRAP_UP_REPORT_AFTER, plan
from coachd.model.types import UTC, SessionKind
from coachd.observe.inbox import read_answer
from coachd.mail.compose import Composer
from tests.support.digest_program import CONFIG
from tests.support.observed import occurrences


@pytest.fixture(scope="module")
def cfg():
    # The figures program, a whole year long: three quarterly reviews before the wrap-up.
    year = CONFIG.replace("ends: 2027-06-25", "ends: 2027-12-17")
    assert year != CONFIG
    return load_config_text(year, Path("/tmp/figures.yaml"))


@pytest.fixture(scope="module")
def booked(cfg):
    result = plan(cfg, Observed(), datetime(2027, 1, 1, tzinfo=UTC), session_mail=False, program_mail=False)
    return Observed(bookings={a.series.spec.key: Booking(a.series, datetime(2027, 1, 1, tzinfo=UTC))
                              for a in result.actions if isinstance(a, BookSeries)})


def mail_at(cfg, observed, now, kind):
    return [a for a in plan(cfg, observed, now, booking=False).actions if isinstance(a, QueueMail) and a.kind == kind]




def test_a_review_pack_goes_to_everyone_in_each_review_before_it(cfg, booked):
    reviews = occurrences(booked, SessionKind.SPONSOR_REVIEW)
    assert len(reviews) == 3  # weeks 12, 25 and 38
    zone = cfg.program.zone
    for number, review in enumerate(reviews):
        due = review.start - REVIEW_PACK_BEFORE
        assert mail_at(cfg, booked, due - timedelta(minutes=1), "review") == [], "not before it is due"
        packs = mail_at(cfg, booked, due, "review")
        assert sorted(m.recipient.person_id for m in packs) == ["cora", "sam"], "the review's sponsor and coach"
        start, end = packs[0].period
        # From the last review (the program's start for the first) to the day of this one.
        expected_start = (datetime.combine(cfg.program.starts, time(0), zone) if number == 0
                          else reviews[number - 1].start)
        assert start.astimezone(zone).date() == expected_start.astimezone(zone).date()
        # ... up to the day the pack goes out: what has happened, nothing still to come.
        assert end.astimezone(zone).date() == due.astimezone(zone).date()
        assert mail_at(cfg, booked, review.start + timedelta(minutes=1), "review") == [], "stale once it began"
    context = contexts.build(cfg, booked, packs[0], due)
    text = Composer().render("review", packs[0].recipient, context).text
    assert "Ahead of the sponsor review" in text and "QUESTIONS FOR THE REVIEW" in text and "NEXT STEPS" in text
    assert "ONE-TO-ONES: DAYS SINCE THE LAST ONE" in text


def test_the_wrap_up_session_asks_the_survey_instead_of_the_usual_feedback(cfg, booked):
    (wrapup,) = occurrences(booked, SessionKind.WRAPUP)
    after = wrapup.end + cfg.mail.feedback.after
    surveys = mail_at(cfg, booked, after, "wrap-up")
    assert sorted(m.recipient.person_id for m in surveys) == ["ann", "bob", "cora", "cy"], "the team and its coach"
    assert not [m for m in mail_at(cfg, booked, after, "feedback-request") if m.occurrence == wrapup]
    context = contexts.build(cfg, booked, surveys[0], after)
    text = " ".join(Composer().render("wrap-up", surveys[0].recipient, context).text.split())
    for question in ("What worked for you in the program?", "What did not work?", "What did you learn?",
                     "What will you change in how you sell or lead?"):
        assert question in text
    assert "never your words or your name" in text


def test_survey_replies_feed_the_final_report(cfg, booked):
    (wrapup,) = occurrences(booked, SessionKind.WRAPUP)
    answered = wrapup.end + timedelta(days=1)
    bodies = {"ann": "1. The accountability questions\n2. Too many emails\n3. Listening\n4. Plan weekly\n\n5\n",
              "bob": "1. accountability in the group\n2. Timing\n3. Pipeline reviews\n4. More prep\n\n4\n",
              "cy": "1. Weekly accountability\n2. Travel clashes\n3. Asking better questions\n4. Prepare\n\n4\n"}
    replies = []
    for person, body in bodies.items():
        payload, rating = read_answer(cfg, "wrap-up", person, body, answered)
        replies.append(ReplyFact("wrap-up", wrapup.session_id, person, answered, rating, payload))
    assert [r.rating for r in replies] == [5, 4, 4]
    observed = Observed(bookings=booked.bookings, replies=replies)
    report_day = cfg.program.ends + WRAP_UP_REPORT_AFTER
    due = datetime.combine(report_day, time(8), ZoneInfo("America/New_York")).astimezone(UTC)
    def reports(now):
        return [m for m in mail_at(cfg, observed, now, "wrap-up") if m.subject_ref == "wrap-up-report"]

    (report,) = reports(due)
    assert report.recipient.person_id == "sam"
    assert reports(due - timedelta(minutes=1)) == [], "a week after the program's last day, not before"
    context = contexts.build(cfg, observed, report, due)
    assert context["wrap_up"] == {"asked": 4, "answered": 3, "average_rating": 4.33, "suppressed": False,
                                  "themes": [{"word": "accountability", "people": 3}]}
    assert context["period_start"] == cfg.program.starts and context["period_end"] >= cfg.program.ends
    text = " ".join(Composer().render("wrap-up", report.recipient, context).text.split())
    assert "3 of 4 participants answered; overall rating 4.3 out of 5" in text
    assert "Said by at least three people: accountability (3)" in text
    assert "OUTCOMES AGREED AT THE START" in text and "ATTENDANCE AT TEAM SESSIONS" in text
    assert "TO RECOGNISE" in text, "the program allows naming people"
    for person, body in bodies.items():  # no one's words: each of the four answers, the first one too
        answers = [line[3:] for line in body.splitlines() if line[:1].isdigit() and line[1:3] == ". "]
        assert len(answers) == 4
        for answer in answers:
            assert answer not in text, (person, answer)

