"""`coachd simulate` on the example program, read back from the files it writes, as a user would."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from email.utils import getaddresses
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from click.testing import CliRunner

from coachd.cli.commands import main
from coachd.config import load_config
from tests.support.simulation import EXAMPLE, simulate, read_mail, reply_to

ROOT = Path(__file__).resolve().parents[2]
SESSION_ID = re.compile(r"^(?P<uid>[^/\s]+)/(?P<rid>\d{8}T\d{6}Z)$")






@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


def test_every_series_is_booked_as_valid_icalendar(twelve_weeks, cfg):
    out, _ = twelve_weeks
    kinds = Counter()
    for path in (out / "calendar").glob("*.ics"):
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
        masters = [e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e]
        assert len(masters) == 1, path
        kinds[str(masters[0]["X-COACHD-KIND"])] += 1
        assert calendar.walk("VTIMEZONE"), f"{path.name} has no VTIMEZONE"
    teams = len(cfg.teams)
    assert kinds == {"kickoff": teams, "group": teams, "individual": len(cfg.coachees()), "circle": 1,
                     "sponsor_review": 1, "wrapup": teams}


def test_every_kind_of_email_in_twelve_weeks_carries_its_headers(twelve_weeks):
    out, _ = twelve_weeks
    messages = read_mail(out)
    kinds = Counter(str(m["X-Coachd-Kind"]) for m in messages)
    for kind in ("invitation", "agenda", "notes-request", "summary", "feedback-request", "feedback-reminder",
                 "goal-check-in", "digest"):
        assert kinds[kind] > 0, f"no {kind} in {dict(kinds)}"
    calendar_uids = {str(icalendar.Calendar.from_ical(p.read_bytes()).walk("VEVENT")[0]["UID"])
                     for p in (out / "calendar").glob("*.ics")}
    for message in messages:
        assert message["Auto-Submitted"] == "auto-generated"
        kind = str(message["X-Coachd-Kind"])
        if kind in ("agenda", "notes-request", "summary", "feedback-request", "feedback-reminder"):
            match = SESSION_ID.match(str(message["X-Coachd-Session"]))
            assert match, message["X-Coachd-Session"]
            assert match["uid"] in calendar_uids
            assert message["X-Coachd-Series"] == match["uid"]


def test_no_email_is_sent_twice(twelve_weeks):
    out, _ = twelve_weeks
    ids = Counter(str(m["Message-ID"]) for m in read_mail(out))
    assert ids and max(ids.values()) == 1
    per_session = Counter((str(m["X-Coachd-Kind"]), str(m["X-Coachd-Session"]), str(m["To"]))
                          for m in read_mail(out) if m["X-Coachd-Session"])
    assert max(per_session.values()) == 1


def calendar_starts(out: Path) -> dict[str, datetime]:
    """Session id (UID/original start) -> when the organizer's calendar says it happens (moves included)."""
    starts = {}
    for path in (out / "calendar").glob("*.ics"):
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
        for event in recurring_ical_events.of(calendar).between(datetime(2026, 12, 1), datetime(2028, 1, 1)):
            start = event["DTSTART"].dt.astimezone(ZoneInfo("UTC"))
            original = event["RECURRENCE-ID"].dt.astimezone(ZoneInfo("UTC")) if "RECURRENCE-ID" in event else start
            starts[f"{event['UID']}/{original:%Y%m%dT%H%M%SZ}"] = start
    return starts


def test_agendas_arrive_before_their_session_in_the_recipients_own_time(twelve_weeks, cfg):
    out, _ = twelve_weeks
    by_email = {str(p.email): p for p in cfg.people}
    agendas = [m for m in read_mail(out) if m["X-Coachd-Kind"] == "agenda"]
    assert agendas
    zones_seen = set()
    starts = calendar_starts(out)
    moved = 0
    for message in agendas:
        session = str(message["X-Coachd-Session"])
        start = starts[session]
        moved += start != datetime.strptime(SESSION_ID.match(session)["rid"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=ZoneInfo("UTC"))
        sent = email.utils.parsedate_to_datetime(str(message["Date"]))
        # At least agenda.before ahead, moved earlier into the reader's working hours (a Monday session's
        # agenda on the Friday before): never more than a long weekend and a day, plus a tick's slack.
        assert start - timedelta(days=4) <= sent <= start - cfg.mail.agenda.before + timedelta(minutes=10), (sent, start)
        person = by_email[getaddresses([str(message["To"])])[0][1]]
        local = start.astimezone(person.zone)
        text = message.get_body(("plain",)).get_content()
        assert f"{local:%H:%M}" in text, (person.id, f"{local:%H:%M}", text[:400])
        zones_seen.add(person.timezone)
    assert len(zones_seen) >= 5
    assert moved > 0, "the example has moved occurrences (the circle takes turns); their agendas follow the move"


def test_invitation_occurrences_match_the_booked_calendar(twelve_weeks):
    out, _ = twelve_weeks
    booked = {}
    for path in (out / "calendar").glob("*.ics"):
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
        uid = str(calendar.walk("VEVENT")[0]["UID"])
        booked[uid] = [e.start for e in recurring_ical_events.of(calendar).between((2027, 1, 1), (2028, 1, 1))]
    for message in read_mail(out):
        if message["X-Coachd-Kind"] != "invitation":
            continue
        part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        calendar = icalendar.Calendar.from_ical(part.get_content())
        assert str(calendar["METHOD"]) == "REQUEST"
        uid = str(calendar.walk("VEVENT")[0]["UID"])
        starts = [e.start for e in recurring_ical_events.of(calendar).between((2027, 1, 1), (2028, 1, 1))]
        assert starts == booked[uid]


def test_actions_file_and_summary(twelve_weeks):
    out, output = twelve_weeks
    actions = [json.loads(line) for line in (out / "actions.jsonl").read_text().splitlines()]
    assert {a["action"] for a in actions} >= {"book", "queue", "send"}
    times = [datetime.fromisoformat(a["at"]) for a in actions]
    assert times == sorted(times), "one action a line, in virtual-time order"
    assert "series booked: group" in output and "emails: agenda" in output


def test_resume_continues_without_repeating(tmp_path):
    simulate("--until", "2027-01-18", "--out", str(tmp_path))
    first = {str(m["Message-ID"]) for m in read_mail(tmp_path)}
    lines = (tmp_path / "actions.jsonl").read_text().splitlines()
    result = simulate("--until", "2027-02-01", "--out", str(tmp_path))
    assert "Resuming" in result.output
    messages = read_mail(tmp_path)
    ids = Counter(str(m["Message-ID"]) for m in messages)
    assert max(ids.values()) == 1 and first < set(ids)
    resumed = [json.loads(line) for line in (tmp_path / "actions.jsonl").read_text().splitlines()[len(lines):]]
    assert resumed and min(datetime.fromisoformat(a["at"]) for a in resumed) >= \
        max(datetime.fromisoformat(json.loads(line)["at"]) for line in lines)




def test_replies_are_matched_and_acted_on(tmp_path):
    first_run = tmp_path / "first"
    simulate("--until", "2027-01-25", "--out", str(first_run))
    messages = read_mail(first_run)
    feedback = next(m for m in messages if m["X-Coachd-Kind"] == "feedback-request")
    notes = next(m for m in messages if m["X-Coachd-Kind"] == "notes-request")
    replies = tmp_path / "replies"
    replies.mkdir()
    at_feedback = email.utils.parsedate_to_datetime(str(feedback["Date"])) + timedelta(hours=2)
    at_notes = email.utils.parsedate_to_datetime(str(notes["Date"])) + timedelta(minutes=30)
    (replies / "feedback.eml").write_bytes(reply_to(feedback, "4/5 - the deal review was useful", at_feedback))
    (replies / "notes.eml").write_bytes(reply_to(
        notes, "Conclusions:\n- Pipeline needs two more discovery calls\nActions:\n"
               "- Ana: send the revised proposal by 2027-02-05\n", at_notes))
    (replies / "stranger.eml").write_bytes(reply_to(feedback, "5", at_feedback, "Mallory <mallory@evil.example>"))

    out = tmp_path / "with-replies"
    result = simulate("--until", "2027-02-08", "--out", str(out), "--replies", str(replies))
    assert "replies: handled" in result.output
    sent = read_mail(out)
    session = str(feedback["X-Coachd-Session"])
    reminders = [m for m in sent if m["X-Coachd-Kind"] == "feedback-reminder" and m["X-Coachd-Session"] == session
                 and m["To"] == feedback["To"]]
    assert reminders == [], "whoever answered is not reminded"
    summary = [m for m in sent if m["X-Coachd-Kind"] == "summary" and m["X-Coachd-Session"] == notes["X-Coachd-Session"]]
    assert summary and all("two more discovery calls" in m.get_body(("plain",)).get_content() for m in summary)
    status = CliRunner().invoke(main, ["status", str(EXAMPLE), "--state", str(out), "--json"])
    data = json.loads(status.output)
    assert any("mallory" in q["from"] for q in data["quarantined"])


def test_progress_is_shown_on_a_terminal(tmp_path, cfg):
    from io import StringIO

    from rich.console import Console

    from coachd.cli.simulate import run_simulate_command

    screen = StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    run_simulate_command(console, cfg, tmp_path, datetime(2027, 1, 8).date(), None, None)
    output = screen.getvalue()
    assert "simulating" in output
    assert "emails: invitation" in output
