"""Privacy of sponsor mail over a whole simulated year (issue 7 point 3): every digest, review pack and
the final report hold aggregates only. No one's words reach a sponsor, and every average shown is over
at least three people, checked against the raw replies it came from."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from statistics import mean

import pytest

from coachd.mail import contexts
from coachd.config.loader import load_config_text
from coachd.model.actions import BookSeries, QueueMail
from coachd.model.observed import Booking, Observed, ReplyFact, latest_answers
from coachd.model.periods import digest_periods
from coachd.plan.planner import first_morning, goal_check_in_due, plan
from coachd.plan.series import attendee
from coachd.model.types import UTC, Role, SessionKind
from coachd.mail.compose import Composer

CONFIG = """
program:
  id: privacy
  name: Privacy Program
  timezone: Europe/Berlin
  starts: 2027-01-04
  ends: 2027-12-17
organizer: {name: Office, email: office@privacy.example, calendar: {provider: local}, send: {provider: file},
            receive: {provider: maildir}}
people:
  - {id: sue,  name: Sue Sponsor, email: sue@privacy.example,  timezone: America/New_York}
  - {id: cora, name: Cora Coach,  email: cora@privacy.example, timezone: Europe/Berlin}
  - {id: carl, name: Carl Coach,  email: carl@privacy.example, timezone: Europe/London}
  - {id: ann,  name: Ann Avery,   email: ann@privacy.example,  timezone: Europe/Berlin}
  - {id: bob,  name: Bob Brandt,  email: bob@privacy.example,  timezone: Europe/Berlin}
  - {id: cy,   name: Cy Castro,   email: cy@privacy.example,   timezone: Europe/Berlin}
  - {id: dee,  name: Dee Diaz,    email: dee@privacy.example,  timezone: Europe/London}
  - {id: eve,  name: Eve Evans,   email: eve@privacy.example,  timezone: Europe/London}
sponsors: [sue]
teams:
  - {id: three, name: Team Three, coach: cora, members: [ann, bob, cy]}
  - {id: two,   name: Team Two,   coach: carl, members: [dee, eve]}
digest: {every: monthly}
"""
SECRET = re.compile(r"S3CR3T-\d+")


@pytest.fixture(scope="module")
def cfg():
    return load_config_text(CONFIG, Path("/tmp/privacy.yaml"))


@pytest.fixture(scope="module")
def year(cfg):
    """A year booked by the planner, with replies to everything: every text carries a unique secret."""
    result = plan(cfg, Observed(), datetime(2027, 1, 1, tzinfo=UTC), session_mail=False, program_mail=False)
    bookings = {a.series.spec.key: Booking(a.series, datetime(2027, 1, 1, tzinfo=UTC))
                for a in result.actions if isinstance(a, BookSeries)}
    replies: list[ReplyFact] = []
    n = 0
    for booking in bookings.values():
        spec = booking.series.spec
        for index, occurrence in enumerate(booking.series.occurrences()):
            after = occurrence.end + timedelta(hours=2)
            n += 1
            replies.append(ReplyFact("notes-request", occurrence.session_id, spec.host.person_id, after, None, {
                "text": f"S3CR3T-{n} private notes", "conclusions": [f"S3CR3T-{n} conclusion"],
                "actions": [{"owner": "Ann", "text": f"S3CR3T-{n} action", "due": "2027-06-01"}]}))
            for k, person in enumerate(a for a in spec.everyone() if a.person_id != spec.host.person_id):
                # Some weeks only one or two people answer: their averages must stay hidden.
                if (index + k) % 4 == 3 or spec.kind is SessionKind.SPONSOR_REVIEW:
                    continue
                n += 1
                replies.append(ReplyFact("feedback-request", occurrence.session_id, person.person_id, after,
                                         1 + (index * 3 + k) % 5, {"text": f"S3CR3T-{n} my feedback",
                                                                    "repeat": f"S3CR3T-{n}", "avoid": f"S3CR3T-{n}"}))
    # Goal check-ins every four weeks, each answer carrying its request (as the inbox stores it), so every
    # check-in is its own question: two people answer some (no average), up to five others.
    check_in = 1
    while cfg.program.starts + cfg.mail.goals.every * check_in <= cfg.program.ends:
        for k, person in enumerate(("ann", "bob", "cy", "dee", "eve")[: 2 + check_in % 4]):
            n += 1
            due = goal_check_in_due(cfg, check_in, cfg.people_by_id[person].zone)
            replies.append(ReplyFact("goal-check-in", None, person, due + timedelta(hours=3), 1 + (check_in + k) % 5,
                                     {"text": f"S3CR3T-{n} my goals"},
                                     request_key=f"mail:privacy/goals-{check_in}/goal-check-in/{person}"))
        check_in += 1
    # Wrap-up survey: "negotiation" said by three people is a theme; "divorce" by two is not.
    for k, person in enumerate(("ann", "bob", "cy", "dee")):
        n += 1
        word = "negotiation" if k < 3 else "divorce"
        replies.append(ReplyFact("wrap-up", None, person, datetime(2027, 12, 18, 9, tzinfo=UTC), 4,
                                 {"text": f"S3CR3T-{n} {word} divorce" if k == 0 else f"S3CR3T-{n} {word}"}))
    return Observed(bookings=bookings, replies=replies)


def sponsor_mail(cfg, observed) -> list[tuple[QueueMail, datetime]]:
    """Every digest, review pack and the final report, each with the moment it is rendered."""
    sue = attendee(cfg, "sue", Role.SPONSOR)
    # Each rendered when the planner has it due, as the daemon would.
    mails = [(QueueMail("privacy", "digest", sue, f"d{i}", end, period=(start, end)), first_morning(end, sue.zone))
             for i, (start, end) in enumerate(digest_periods(cfg))]
    for booking in observed.bookings.values():
        if booking.series.spec.kind is SessionKind.SPONSOR_REVIEW:
            for occurrence in booking.series.occurrences():
                # The planner's own review mail: period from the last review.
                result = plan(cfg, observed, occurrence.start - timedelta(days=3), booking=False)
                mails += [(a, occurrence.start - timedelta(days=3)) for a in result.actions
                          if isinstance(a, QueueMail) and a.kind == "review" and a.recipient.person_id == "sue"
                          and a.occurrence == occurrence]
    reports = [a for a in plan(cfg, observed, datetime(2027, 12, 25, 14, tzinfo=UTC), booking=False).actions
               if isinstance(a, QueueMail) and a.subject_ref == "wrap-up-report"]
    assert [r.recipient.person_id for r in reports] == ["sue"]
    mails.append((reports[0], reports[0].due))
    return mails


def raters(observed, session_ids: set[str]) -> list[tuple[str, int]]:
    return [(r.person_id, r.rating) for r in latest_answers(observed.replies)
            if r.request_kind in ("feedback-request", "feedback-reminder") and r.session_id in session_ids
            and r.rating is not None]


def goal_questions(cfg, start: datetime, end: datetime, now: datetime) -> set[tuple[str, str]]:
    """(coachee, "goals-n") of each goal check-in due in [start, end) by `now`."""
    asked, n = set(), 1
    while cfg.program.starts + cfg.mail.goals.every * n <= cfg.program.ends:
        asked |= {(p.id, f"goals-{n}") for p in cfg.coachees() if start <= goal_check_in_due(cfg, n, p.zone) < end
                  and goal_check_in_due(cfg, n, p.zone) <= now}
        n += 1
    return asked


def goal_answers(cfg, observed, start: datetime, end: datetime, now: datetime) -> list[ReplyFact]:
    asked = goal_questions(cfg, start, end, now)
    return [r for r in latest_answers(observed.replies)
            if r.request_kind == "goal-check-in" and (r.person_id, r.request_ref) in asked]


def test_every_sponsor_email_of_the_year_holds_aggregates_only(cfg, year):
    composer = Composer()
    mails = sponsor_mail(cfg, year)
    kinds = [m.kind for m, _ in mails]
    assert kinds.count("digest") == 12 and kinds.count("review") >= 3 and kinds.count("wrap-up") == 1
    shown = goals_shown = goals_hidden = shown_team_ratings = 0
    for mail, now in mails:
        context = contexts.build(cfg, year, mail, now)
        rendered = composer.render(mail.kind, mail.recipient, context)
        for body in (rendered.subject, rendered.text, rendered.html):
            assert not SECRET.search(body), f"{mail.kind} {mail.period}: someone's words reached the sponsor"
            assert "divorce" not in body, "a word only two people used is not a theme"
        # The period's feedback average, recomputed from the raw replies.
        start, end = mail.period
        held = {o.session_id for b in year.bookings.values() for o in b.series.occurrences()
                if start <= o.start < end and o.end + cfg.mail.feedback.after <= now
                and b.series.spec.kind not in (SessionKind.SPONSOR_REVIEW, SessionKind.WRAPUP, SessionKind.CHECK_IN)}
        raw = raters(year, held)
        feedback = context["feedback"]
        if len({p for p, _ in raw}) >= 3:
            assert feedback["average_rating"] == pytest.approx(mean(r for _, r in raw), abs=0.006)
            shown += 1
        else:
            assert feedback["average_rating"] is None
        # Team ratings over time: never for the team of two, and each shown one over three people or more.
        teams = {team["id"]: team for team in context["history"]["teams"]}
        assert set(teams["two"]["rating"]) == {None}, "the team of two is in the history, never rated"
        assert all(r is None or 1 <= r <= 5 for r in teams["three"]["rating"])
        shown_team_ratings += sum(r is not None for r in teams["three"]["rating"])
        # Goal check-ins: the period's answers recomputed from the raw replies; an average over three or more.
        goals, answers = context["goal_check_ins"], goal_answers(cfg, year, start, end, now)
        assert (goals["asked"], goals["answered"]) == (len(goal_questions(cfg, start, end, now)), len(answers))
        if len({r.person_id for r in answers}) >= 3:
            assert goals["average"] == pytest.approx(mean(r.rating for r in answers), abs=0.006)
            goals_shown += 1
        else:
            assert goals["average"] is None and goals["suppressed"] == bool(answers)
            goals_hidden += bool(answers)
        if mail.kind == "wrap-up":
            assert [t["word"] for t in context["wrap_up"]["themes"]] == ["negotiation"]
            assert "negotiation (3)" in rendered.text
        # Names: the program does not allow recognition, so a coachee is named only in the one-to-one table.
        assert "TO RECOGNISE" not in rendered.text
        for coachee in cfg.coachees():
            lines = [line for line in rendered.text.splitlines() if coachee.name in line]
            assert len(lines) == 1 and re.match(rf"{coachee.name} +Team (Two|Three) +(\d+ days|none yet)", lines[0]), lines
    assert shown >= 12, "the averages checked above were really shown"
    assert goals_shown >= 6 and goals_hidden >= 2, "goal check-in averages both shown and hidden"
    assert shown_team_ratings > 0, "the team of three's ratings over time were shown"


def test_a_month_where_two_people_rated_shows_no_average(cfg, year):
    start, end = digest_periods(cfg)[3]
    few = Observed(bookings=year.bookings, replies=[
        r for r in year.replies
        if r.request_kind not in ("feedback-request", "feedback-reminder") or r.person_id in ("ann", "dee")])
    mail = QueueMail("privacy", "digest", attendee(cfg, "sue", Role.SPONSOR), "d", end, period=(start, end))
    context = contexts.build(cfg, few, mail, end + timedelta(hours=8))
    assert context["feedback"]["responses"] > 0 and context["feedback"]["people"] == 2
    assert context["feedback"]["average_rating"] is None and context["feedback"]["suppressed"]
    text = Composer().render("digest", mail.recipient, context).text
    assert "suppressed, fewer than 3 people" in " ".join(text.split())


def _into_store(store, observed: Observed) -> None:
    """The year as the daemon would have stored it: booked series and handled replies."""
    from coachd.model.serial import overrides_to_list, spec_to_dict
    from coachd.store.models import Reply, Series

    with store.session() as db:
        for booking in observed.bookings.values():
            spec = booking.series.spec
            db.add(Series(uid=spec.uid, program_id="privacy", key=spec.key, booked_at=booking.booked_at,
                          kind=spec.kind.value, title=spec.title, timezone=spec.timezone, spec=spec_to_dict(spec),
                          sequence=booking.series.sequence, overrides=overrides_to_list(booking.series.overrides),
                          cancelled=booking.series.cancelled, updated_at=booking.booked_at))
        for n, reply in enumerate(observed.replies):
            db.add(Reply(program_id="privacy", message_id=f"<{n}@privacy.example>", received_at=reply.received_at,
                         from_addr=f"{reply.person_id}@privacy.example", kind=reply.request_kind,
                         session_id=reply.session_id, person_id=reply.person_id, status="handled",
                         rating=reply.rating, payload=dict(reply.payload), raw=b"", request_key=reply.request_key))


def test_every_digest_read_from_the_store_matches_the_raw_replies_in_it(cfg, year, store):
    """The year stored, read back as the daemon reads it, and each digest's average and response
    count compared with a query over the replies table itself."""
    from sqlalchemy import select

    from coachd.observe.observer import observe
    from coachd.store.models import Reply

    _into_store(store, year)
    stored = observe(store, "privacy")
    composer = Composer()
    sue = attendee(cfg, "sue", Role.SPONSOR)
    for start, end in digest_periods(cfg):
        now = first_morning(end, sue.zone)
        held = [o.session_id for b in stored.bookings.values() for o in b.series.occurrences()
                if start <= o.start < end and o.end + cfg.mail.feedback.after <= now
                and b.series.spec.kind not in (SessionKind.SPONSOR_REVIEW, SessionKind.WRAPUP, SessionKind.CHECK_IN)]
        with store.session() as db:
            rows = db.execute(select(Reply.session_id, Reply.person_id, Reply.rating, Reply.received_at)
                              .where(Reply.program_id == "privacy", Reply.status == "handled",
                                     Reply.kind.in_(("feedback-request", "feedback-reminder")))
                              .order_by(Reply.received_at)).all()
        latest = {}
        for session_id, person, rating, received_at in rows:
            if session_id in set(held) and received_at <= now:
                latest[(session_id, person)] = (person, rating)  # a later answer replaces an earlier one
        ratings = [(p, r) for p, r in latest.values() if r is not None]
        mail = QueueMail("privacy", "digest", sue, "d", now, period=(start, end))
        context = contexts.build(cfg, stored, mail, now)
        feedback = context["feedback"]
        assert feedback["responses"] == len(ratings), (start, "every synthetic answer carries a rating")
        if len({p for p, _ in ratings}) >= 3:
            assert feedback["average_rating"] == pytest.approx(mean(r for _, r in ratings), abs=0.006)
        else:
            assert feedback["average_rating"] is None
        rendered = composer.render("digest", sue, context)
        assert not SECRET.search(rendered.text + rendered.html)
