"""The context each email kind is rendered with, documented, and realistic samples of it.

Every kind gets:
  program      {id, name, timezone (IANA), outcomes: list[str]}
  organizer    {name, email}
  recipient    the Recipient (an `Attendee`: person_id, name, email, timezone, role); every time
               is shown in recipient.timezone. `Composer.compose` sets it from its argument.
  kind         the kind being rendered (set by the Composer)

A *session dict* is {id ("<UID>/<RECURRENCE-ID UTC>"), kind (kickoff|group|individual|circle|
sponsor_review|wrapup), title, start, end (aware UTC), length (timedelta), team_name (str|None),
host (Attendee), attendees (list[Attendee]), series_uid}.

Session kinds (invitation, update, cancellation, agenda, notes-request, summary,
feedback-request, feedback-reminder) also get `session` (a session dict). Then per kind:
  invitation, update, cancellation
               series {title, kind, cadence_weeks (int|None), first_start, until (aware|None),
               length, attendees}; `session` is the first (or the changed) occurrence.
               Optional: reason (str, why it changed), occurrence_only (bool: only `session`
               is cancelled/moved, not the series).
  agenda       purpose, reason, importance (str); goals (list[str]); open_actions (list of
               {text, owner, due (date|None)}); topics (list of {text, from_name});
               questions (list[str], accountability questions); focus ("strategic"|"tactical");
               asks_for_topics (bool); previous_session (session dict|None)
  notes-request  (session only; the email explains the reply format)
  summary      conclusions (list[str]); actions (list of {text, owner, due}); next_session
               (session dict|None); feedback_hint (str); updated (bool: sent again with late notes)
  feedback-request, feedback-reminder
               questions (list[str]); the 1-5 scale and the repeat/avoid pair are template text
  goal-check-in  period_label (str); goals (list[str]); questions (list[str])
  check-in     state ("stress"|"steady"|"momentum"); next_check_in (aware|None);
               optional: coach (Attendee)
  digest       the figures of `coachd.reporting.figures.program_figures` (see its docstring and
               docs/architecture.md): period_start, period_end (date, inclusive); sessions {rows:
               [{kind, label, planned, held, moved, cancelled, to_come}], total}; teams (list of {id,
               name, coach, planned, held, moved, cancelled, to_come, expected, attended,
               attendance_rate (0..1|None)}); feedback {requests, responses, response_rate, average_rating
               (None when suppressed), people, suppressed, previous, trend {response_rate,
               average_rating}}; actions {opened, done, open, overdue}; coaching {target, rows: [{coach,
               hours, working_hours, share, on_target}]}; consistency {cadence_days, rows: [{coachee,
               team, last (date|None), days_since, behind}]}; outcomes (list of {text, baseline, target,
               unit, latest, measured_on, progress}); goal_check_ins {asked, answered, average,
               suppressed}; recognition {allowed, most_consistent, most_improved (names)}; upcoming
               (session dicts); next_review (aware|None); next_digest (date|None); program_ends (date);
               history {weeks, teams: [{id, name, attendance, rating}]}; charts (list of
               coachd.reporting.charts.Chart, shown as inline images). Aggregates only: never notes, answers or
               ratings of one person.
  review       as digest, plus next_steps (list[str])
  wrap-up      to sponsors: as review, plus wrap_up {asked, answered, average_rating, suppressed,
               themes: [{word, people}]}; to participants (survey true): session, questions (list[str])
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from coachd.model.mail_kinds import FEEDBACK_KINDS, ITIP_KINDS, MailKind
from coachd.model.types import Attendee, Role, ical_utc

UTC = timezone.utc

LENA = Attendee("lena", "Lena Große", "lena@northwind.example", "Europe/Berlin", Role.COACH)
ZOE = Attendee("zoe", "Zoë Müller", "zoe@northwind.example", "America/Chicago", Role.COACHEE)
PRIYA = Attendee("priya", "Priya Raghunathan", "priya@northwind.example", "Asia/Kolkata", Role.COACHEE)
DANA = Attendee("dana", "Dana Whitfield", "dana@northwind.example", "America/New_York", Role.SPONSOR)

PROGRAM = {
    "id": "northwind-2027",
    "name": "Northwind Sales Coaching 2027",
    "timezone": "America/Chicago",
    "outcomes": ["Raise win rate on strategic accounts from 22% to 30%", "Every coachee runs a quarterly account plan"],
}
ORGANIZER = {"name": "Northwind Coaching Office", "email": "coaching@northwind.example"}

_GROUP_UID = "c0a1d7e2f3b4@northwind-2027.coachd"
_ONE_UID = "5e6f7a8b9c0d@northwind-2027.coachd"


def session(kind: str = "group", start: datetime = datetime(2027, 1, 11, 15, 0, tzinfo=UTC), **changes: Any) -> dict[str, Any]:
    """A session dict; the default is the Americas team's weekly group session (09:00 Chicago)."""
    group = kind == "group"
    uid = _GROUP_UID if group else _ONE_UID
    length = timedelta(minutes=60 if group else 30)
    value: dict[str, Any] = {
        "id": f"{uid}/{ical_utc(start)}",
        "kind": kind,
        "title": "Americas Enterprise: group coaching" if group else "One-to-one: Lena Große / Zoë Müller",
        "start": start,
        "end": start + length,
        "length": length,
        "team_name": "Americas Enterprise",
        "host": LENA,
        "attendees": [LENA, ZOE, PRIYA] if group else [LENA, ZOE],
        "series_uid": uid,
    }
    value.update(changes)
    return value


def _series(first: dict[str, Any], cadence_weeks: int | None, until: datetime | None) -> dict[str, Any]:
    return {
        "title": first["title"], "kind": first["kind"], "cadence_weeks": cadence_weeks,
        "first_start": first["start"], "until": until, "length": first["length"], "attendees": first["attendees"],
    }  # fmt: skip


def _actions() -> list[dict[str, Any]]:
    return [
        {"text": "Send the revised proposal to Contoso", "owner": "Zoë Müller", "due": date(2027, 1, 20)},
        {"text": "Map the buying committee at Fabrikam", "owner": "Priya Raghunathan", "due": date(2027, 1, 18)},
        {"text": "Share the discovery-call checklist", "owner": "Lena Große", "due": None},
    ]


def _sponsor_view() -> dict[str, Any]:
    counts = {"planned": 4, "held": 4, "moved": 1, "cancelled": 0, "to_come": 0}
    weeks = [date(2027, 1, 4) + timedelta(weeks=n) for n in range(4)]
    return {
        "period_start": date(2027, 1, 4),
        "period_end": date(2027, 1, 31),
        "sessions": {"rows": [{"kind": "group", "label": "Team sessions", **counts},
                              {"kind": "individual", "label": "One-to-ones", "planned": 12, "held": 10, "moved": 2,
                               "cancelled": 2, "to_come": 0}],
                     "total": {"planned": 16, "held": 14, "moved": 3, "cancelled": 2, "to_come": 0}},
        "teams": [
            {"id": "americas", "name": "Americas Enterprise", "coach": "Maria Lopez", **counts, "expected": 12,
             "attended": 11, "attendance_rate": 0.917, "sessions_planned": 4, "sessions_held": 4},
            {"id": "apac", "name": "APAC Growth", "coach": "Kenji Sato", **counts, "held": 0, "cancelled": 4,
             "expected": 0, "attended": 0, "attendance_rate": None, "sessions_planned": 4, "sessions_held": 0},
        ],
        "feedback": {"responses": 17, "requests": 22, "response_rate": 0.773, "average_rating": 4.3, "people": 8,
                     "suppressed": False, "previous": {"response_rate": 0.7, "average_rating": 4.1},
                     "trend": {"response_rate": 0.073, "average_rating": 0.2}},
        "actions": {"opened": 9, "done": 5, "open": 6, "overdue": 2},
        "coaching": {"target": 0.1, "rows": [
            {"id": "lena", "coach": "Lena Große", "hours": 14.5, "working_hours": 160.0, "share": 0.091,
             "on_target": False},
            {"id": "kenji", "coach": "Kenji Sato", "hours": 18.0, "working_hours": 160.0, "share": 0.113,
             "on_target": True}]},
        "coaching_hours": [{"coach": "Lena Große", "hours": 14.5}, {"coach": "Kenji Sato", "hours": 18.0}],
        "consistency": {"cadence_days": 14, "rows": [
            {"id": "zoe", "coachee": "Zoë Müller", "team": "Americas Enterprise", "last": date(2027, 1, 26),
             "days_since": 5, "behind": False},
            {"id": "priya", "coachee": "Priya Raghunathan", "team": "APAC Growth", "last": None, "days_since": None,
             "behind": True}]},
        "outcomes": [
            {"text": PROGRAM["outcomes"][0], "baseline": 22.0, "target": 30.0, "unit": "%", "latest": 24.0,
             "measured_on": date(2027, 1, 29), "progress": 0.25},
            {"text": PROGRAM["outcomes"][1], "baseline": None, "target": None, "unit": "", "latest": None,
             "measured_on": None, "progress": None}],
        "goal_check_ins": {"asked": 9, "answered": 7, "average": 3.4, "suppressed": False},
        "recognition": {"allowed": True, "most_consistent": ["Zoë Müller"], "most_improved": []},
        "upcoming": [
            session(start=datetime(2027, 2, 1, 15, 0, tzinfo=UTC)),
            session("individual", datetime(2027, 2, 2, 16, 0, tzinfo=UTC)),
        ],
        "next_review": datetime(2027, 3, 29, 15, 0, tzinfo=UTC),
        "next_digest": date(2027, 2, 28),
        "program_ends": date(2027, 12, 17),
        "history": {"weeks": weeks, "teams": [
            {"id": "americas", "name": "Americas Enterprise", "attendance": [1.0, 0.667, 1.0, 1.0],
             "rating": [None, None, 4.2, 4.4]},
            {"id": "apac", "name": "APAC Growth", "attendance": [None, None, None, None],
             "rating": [None, None, None, None]}]},
        "charts": [],
        "compared_with": "the last digest",
        "survey": False,
    }


FEEDBACK_QUESTIONS = ["What worked well?", "What should we do more or less of?", "Were your expectations met?"]


def _specific(kind: str) -> tuple[Attendee, dict[str, Any]]:
    group, one = session(), session("individual", datetime(2027, 1, 12, 16, 0, tzinfo=UTC))
    until = datetime(2027, 12, 13, 15, 0, tzinfo=UTC)
    if kind in ITIP_KINDS:
        extra = {"reason": "Lena Große takes over as coach"} if kind == MailKind.UPDATE else {}
        return PRIYA, {"session": group, "series": _series(group, 1, until), **extra}
    if kind == MailKind.AGENDA:
        return PRIYA, {
            "session": group,
            "purpose": "Plan the first-quarter pursuit of our three strategic accounts",
            "reason": "Q1 sets the pipeline we close in Q2 and Q3",
            "importance": "Each of you leaves with an account plan you believe in",
            "goals": ["Q1: two qualified opportunities per strategic account", "January: complete stakeholder maps"],
            "open_actions": _actions(),
            "topics": [{"text": "Pricing pushback from <Contoso> procurement", "from_name": "Zoë Müller"}],
            "questions": [
                "What do you want to be held accountable to?",
                "How should I interact with you when you have broken an agreement?",
            ],
            "focus": "strategic",
            "asks_for_topics": True,
            "previous_session": session(start=datetime(2027, 1, 4, 15, 0, tzinfo=UTC)),
            "afterwards": "A summary with conclusions, actions and the next session and a short feedback request "
                          "will follow.",
        }
    if kind == MailKind.NOTES_REQUEST:
        return LENA, {"session": one}
    if kind == MailKind.SUMMARY:
        return ZOE, {
            "session": one,
            "conclusions": ["Lead with the business case, not the discount", "Fabrikam needs an executive sponsor first"],
            "actions": _actions()[:1],
            "next_session": session("individual", datetime(2027, 1, 26, 16, 0, tzinfo=UTC)),
            "last_session": False,
            "feedback_hint": "A short feedback request follows in an hour; two minutes is enough.",
        }
    if kind in FEEDBACK_KINDS:
        return PRIYA, {"session": group, "questions": FEEDBACK_QUESTIONS}
    if kind == MailKind.GOAL_CHECK_IN:
        return ZOE, {
            "period_label": "February 2027",
            "goals": ["Close the Contoso renewal", "Two new strategic opportunities"],
            "questions": [
                "Where are you against each goal?",
                "What stands in the way?",
                "What will you commit to by the next check-in?",
            ],
        }
    if kind == MailKind.CHECK_IN:
        return ZOE, {"state": "stress", "next_check_in": datetime(2027, 1, 18, 15, 0, tzinfo=UTC), "coach": LENA}
    if kind == MailKind.DIGEST:
        return DANA, _sponsor_view()
    if kind in (MailKind.REVIEW, MailKind.WRAP_UP):
        steps = ["Recognise Priya Raghunathan's stakeholder mapping at the all-hands", "Fold account plans into quarterly goals"]
        survey = {"asked": 12, "answered": 9, "average_rating": 4.4, "suppressed": False,
                  "themes": [{"word": "accountability", "people": 5}, {"word": "pipeline", "people": 3}]}
        return DANA, {**_sponsor_view(), "next_steps": steps, "wrap_up": survey}
    raise ValueError(f"no sample for email kind {kind!r}")


def sample_context(kind: str, recipient: Attendee | None = None) -> dict[str, Any]:
    """A full, realistic context for `kind`, addressed to its usual reader unless told otherwise."""
    reader, specific = _specific(kind)
    return {"program": PROGRAM, "organizer": ORGANIZER, "recipient": recipient or reader, **specific}


def sample_contexts(kind: str) -> list[dict[str, Any]]:
    """The full sample plus sparse variants (Nones, empty lists, another reader), so that
    `Composer.check` also walks the branches a full context never takes."""
    full = sample_context(kind)
    sparse = {**full, "recipient": LENA if full["recipient"] != LENA else ZOE}
    if "session" in full:
        sparse["session"] = {**full["session"], "team_name": None}
    sparse.update({key: None for key in ("previous_session", "next_session", "next_check_in", "until") if key in full})
    lists = ("goals", "open_actions", "topics", "questions", "actions", "conclusions", "upcoming", "coaching_hours",
             "next_steps", "teams", "outcomes")  # fmt: skip
    sparse.update({key: [] for key in lists if isinstance(full.get(key), list)})
    if "series" in full:
        sparse["series"] = {**full["series"], "cadence_weeks": None, "until": None}
        sparse["occurrence_only"] = True
    if "feedback" in full:
        sparse["feedback"] = {**full["feedback"], "responses": 2, "requests": 9, "response_rate": 0.222,
                              "average_rating": None, "suppressed": True, "people": 2,
                              "trend": {"response_rate": None, "average_rating": None}}
        sparse.update(next_review=None, next_digest=None, recognition={"allowed": False, "most_consistent": [],
                                                                        "most_improved": []})
        sparse["coaching"] = {"target": None, "rows": []}
        sparse["consistency"] = {"cadence_days": 14, "rows": []}
        sparse["sessions"] = {"rows": [], "total": {k: 0 for k in full["sessions"]["total"]}}
        sparse["history"] = {"weeks": [], "teams": []}
    if "wrap_up" in full:
        sparse["wrap_up"] = {"asked": 4, "answered": 2, "average_rating": None, "suppressed": True, "themes": []}
    variants = [full, sparse]
    if kind == MailKind.WRAP_UP:  # the participants' survey after their team's wrap-up session
        variants.append({"program": PROGRAM, "organizer": ORGANIZER, "recipient": ZOE, "survey": True,
                         "session": session("wrapup", datetime(2027, 12, 13, 15, 0, tzinfo=UTC)),
                         "questions": ["What worked for you in the program?", "What did not work?"]})
    if kind == MailKind.AGENDA:
        variants.append({**full, "focus": "tactical", "asks_for_topics": False})
    if kind == MailKind.SUMMARY:  # sent again when the coach's notes came after the first one went out
        variants.append({**full, "updated": True, "feedback_hint": None})
    if kind == MailKind.CHECK_IN:
        variants += [{**full, "state": state} for state in ("steady", "momentum")]
        variants.append({k: v for k, v in sparse.items() if k != "coach"})
    return variants
