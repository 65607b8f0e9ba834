"""config/example.yaml: it validates, has the people and zones a demo needs, and reads back right."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from coachd.config import load_config, summary_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


def test_program(cfg):
    program = cfg.program
    assert (program.id, program.timezone) == ("northwind-2027", "America/Chicago")
    assert program.zone == ZoneInfo("America/Chicago")
    assert (program.starts, program.ends) == (date(2027, 1, 4), date(2027, 12, 17))
    assert 2 <= len(program.outcomes) <= 3
    assert program.recognise_people is False


def test_blackout_days_expand_ranges(cfg):
    days = cfg.program.blackout_days()
    assert date(2027, 5, 31) in days
    assert {date(2027, 12, 20), date(2027, 12, 31)} <= days
    assert len(days) == 1 + 12
    days.clear()  # a fresh set each call: callers may change theirs
    assert len(cfg.program.blackout_days()) == 13


def test_people_teams_and_roles(cfg):
    assert [t.id for t in cfg.teams] == ["americas", "apac", "emea"]
    assert [(t.coach, len(t.members)) for t in cfg.teams] == [("maria", 3), ("kenji", 3), ("lena", 3)]
    assert [p.id for p in cfg.coaches()] == ["maria", "kenji", "lena"]
    assert len(cfg.coachees()) == 9
    assert cfg.sponsors == ["dana"]
    assert cfg.person("dana").timezone == "America/New_York"
    assert cfg.digest.to == ["dana"]


def test_zones_span_three_continents(cfg):
    member_zones = {p.timezone for p in cfg.coachees()}
    assert len(member_zones) >= 5
    continents = {zone.split("/")[0] for zone in member_zones}
    assert len(continents) >= 3
    assert {"America/Sao_Paulo", "Europe/London", "Australia/Sydney", "Asia/Singapore", "Asia/Kolkata"} <= member_zones


def test_design_people_are_as_written(cfg):
    maria = cfg.person("maria")
    assert (maria.hours.start, maria.hours.end) == (time(8, 30), time(17))
    assert maria.days == frozenset(range(5))
    assert maria.busy == "calendars/maria.ics"
    assert cfg.person("ben").timezone == "Europe/London"
    assert cfg.team_of("ana").id == cfg.team_of("ben").id == "americas"


def _window(person, day: date):
    """A person's working hours on a (local) date, as UTC datetimes."""
    zone = person.zone
    start = datetime.combine(day, person.hours.start, zone).astimezone(timezone.utc)
    end = datetime.combine(day, person.hours.end, zone).astimezone(timezone.utc)
    return start, end


@pytest.mark.parametrize("day", [date(2027, 1, 14), date(2027, 7, 15)], ids=["winter", "summer"])
def test_every_team_shares_an_hour_with_its_coach(cfg, day):
    # The scheduler looks for slots all of a team can make; the example must have some, all year.
    for team in cfg.teams:
        people = [cfg.person(team.coach), *(cfg.person(m) for m in team.members)]
        windows = [_window(p, day) for p in people]
        overlap = min(end for _, end in windows) - max(start for start, _ in windows)
        assert overlap >= timedelta(hours=1), (team.id, day, overlap)
        assert all(day.weekday() in p.days for p in people)


def test_defaults_and_design_values(cfg):
    s = cfg.sessions
    assert (s.group.every, s.group.length) == (timedelta(weeks=1), timedelta(minutes=60))
    assert (s.individual.every, s.individual.length) == (timedelta(weeks=2), timedelta(minutes=30))
    assert s.sponsor_review.every == timedelta(weeks=13)
    assert s.kickoff.length == s.wrapup.length == timedelta(minutes=90)
    assert cfg.mail.feedback.remind == timedelta(days=3)
    assert cfg.mail.summary.after == timedelta(hours=24)
    assert cfg.check_ins.stress == timedelta(weeks=1)
    assert cfg.daemon.send == timedelta(minutes=1)
    assert cfg.scheduling.notice == timedelta(hours=48)
    assert cfg.store.url is None and cfg.templates.folder is None
    assert (cfg.organizer.calendar.provider, cfg.organizer.send.provider, cfg.organizer.receive.provider) == (
        "local",
        "file",
        "maildir",
    )


def test_paths_resolve_beside_the_config(cfg):
    assert cfg.source == EXAMPLE
    assert cfg.base_dir == EXAMPLE.parent
    assert cfg.resolve("calendars/maria.ics") == EXAMPLE.parent / "calendars" / "maria.ics"
    assert cfg.resolve("/etc/hosts") == Path("/etc/hosts")


def test_busy_calendars_are_valid_icalendar(cfg):
    busy = [p for p in cfg.people if p.busy]
    assert 3 <= len(busy) <= 4
    for person in busy:
        raw = cfg.resolve(person.busy).read_bytes()
        assert raw.count(b"\r\n") == raw.count(b"\n"), f"{person.busy}: lines must end in CRLF"
        calendar = Calendar.from_ical(raw)
        assert calendar["VERSION"] == "2.0" and "PRODID" in calendar
        assert calendar.walk("VTIMEZONE"), person.busy
        events = calendar.walk("VEVENT")
        assert all("UID" in e and "DTSTAMP" in e for e in events)
        assert any("RRULE" in e for e in events)
        assert all(not c.errors for c in calendar.walk())
    maria = Calendar.from_ical(cfg.resolve("calendars/maria.ics").read_bytes())
    events = maria.walk("VEVENT")
    assert any("EXDATE" in e for e in events)
    assert any(not hasattr(e.decoded("DTSTART"), "hour") for e in events), "an all-day event"


def test_summary_names_what_matters(cfg):
    text = summary_text(cfg)
    for fragment in [
        "northwind-2027",
        "2027-01-04 to 2027-12-17",
        "America/Chicago",
        "3 coaches, 9 coachees, 1 sponsor",
        "13 blackout days",
        "calendar local, send file, receive maildir",
        "group 1h every 1w",
        "individual 30m every 2w",
        "Asia/Kolkata",
    ]:
        assert fragment in text, fragment
    assert len(text.splitlines()) <= 24
