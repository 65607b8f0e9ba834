"""Unknown is not free: nothing is booked over a person whose busy times were never read, and when a
source recovers the whole life of every series that person is in is checked (issue 14, point 4)."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from coachd.cli.commands import main
from coachd.config import load_config
from coachd.model.types import UTC, ical_utc
from coachd.observe.observer import observe
from coachd.plan.repair import LOOKAHEAD
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from tests.integration.test_busy_unreadable import BYSETPOS
from tests.support.ticks import EXAMPLE, program_start, tick

EMPTY = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//busy//EN\r\nEND:VCALENDAR\r\n"


def example_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "program"
    shutil.copytree(EXAMPLE.parent / "calendars", folder / "calendars")
    shutil.copy(EXAMPLE, folder / "example.yaml")
    return folder / "example.yaml"


def observed_in(state: Path, cfg, now: datetime):
    program = open_program(cfg, state, VirtualClock(now))
    try:
        return observe(program.store, program.id)
    finally:
        program.close()


def with_maria(observed) -> list:
    return [b.series for b in observed.bookings.values()
            if not b.series.cancelled and "maria" in {a.person_id for a in b.series.spec.everyone()}]


def collisions(series_list, busy, after: datetime) -> list:
    return [(s.spec.key, o.start) for s in series_list for o in s.occurrences()
            if not o.cancelled and o.start >= after
            and any(b.start < o.end and o.start < b.end for b in busy)]


def mail_to(state: Path, address: str) -> list[str]:
    return [p.name for p in (state / "mail").glob("*.eml") if address in p.read_text(errors="replace")]


# Unreadable on the first sync: no file at all, or a rule the expansion refuses (BYSETPOS out of range).
UNREADABLE = {"missing": None, "bysetpos": BYSETPOS}


@pytest.mark.parametrize("broken", sorted(UNREADABLE))
def test_nothing_is_booked_over_a_coach_whose_busy_file_was_never_read(tmp_path, caplog, broken):
    path = example_copy(tmp_path)
    maria_ics = path.parent / "calendars" / "maria.ics"
    original = maria_ics.read_bytes()
    if UNREADABLE[broken] is None:
        maria_ics.unlink()
    else:
        maria_ics.write_bytes(UNREADABLE[broken])
    cfg = load_config(path)
    state = tmp_path / "state"
    now = program_start(cfg) + timedelta(days=3)

    with caplog.at_level(logging.WARNING, logger="coachd"):
        tick(state, cfg, now)
        tick(state, cfg, now + timedelta(minutes=15))
    observed = observed_in(state, cfg, now)
    assert with_maria(observed) == []  # not one session booked over her unknown commitments
    assert observed.bookings  # everyone else's are
    assert mail_to(state, "maria@northwind.example") == []
    assert "maria" in observed.busy_unknown
    waiting = [r.getMessage() for r in caplog.records if "maria" in r.getMessage() and "busy" in r.getMessage()]
    assert len(waiting) == 1, waiting  # said once, not every pass

    result = CliRunner().invoke(main, ["status", str(path), "--state", str(state), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [w["person"] for w in data["waiting"]] == ["maria"]
    assert ("file not found" if broken == "missing" else "BYSETPOS") in data["waiting"][0]["error"]
    text = CliRunner().invoke(main, ["status", str(path), "--state", str(state)], catch_exceptions=False).output
    assert "waiting for busy times of maria: " in text
    dry = CliRunner().invoke(main, ["plan", str(path), "--state", str(state),
                                    "--at", str(now.date())], catch_exceptions=False).output
    assert "waiting for busy times of maria: " in dry

    maria_ics.write_bytes(original)  # the file is back
    later = now + timedelta(hours=1)
    tick(state, cfg, later)
    observed = observed_in(state, cfg, later)
    mine = with_maria(observed)
    assert mine  # booked now that her times are known
    assert observed.busy_unknown == {}
    assert collisions(mine, observed.busy["maria"], later) == []
    assert mail_to(state, "maria@northwind.example")


def test_a_source_that_recovers_has_the_whole_program_checked(tmp_path):
    path = example_copy(tmp_path)
    maria_ics = path.parent / "calendars" / "maria.ics"
    maria_ics.write_bytes(EMPTY)  # read: she is free
    cfg = load_config(path)
    state = tmp_path / "state"
    start = program_start(cfg) + timedelta(days=3)
    tick(state, cfg, start)
    booked = {s.spec.key: s for s in with_maria(observed_in(state, cfg, start))}
    group = booked["group:americas"]

    maria_ics.unlink()  # the feed goes away: the last known times are kept
    tick(state, cfg, start + timedelta(hours=1))

    # It comes back with a weekly commitment at the team session's time, all program long.
    recover = start + timedelta(hours=2)
    events = [o for o in group.occurrences() if o.start > recover + cfg.scheduling.notice + timedelta(days=7)]
    assert any(o.start > recover + cfg.scheduling.notice + LOOKAHEAD for o in events)  # beyond repair's reach
    body = b"".join(b"BEGIN:VEVENT\r\nUID:board-%d@example\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:%s\r\n"
                    b"DTEND:%s\r\nEND:VEVENT\r\n" % (i, ical_utc(o.start).encode(), ical_utc(o.end).encode())
                    for i, o in enumerate(events))
    maria_ics.write_bytes(EMPTY.replace(b"END:VCALENDAR", body + b"END:VCALENDAR"))
    before_mail = set((state / "mail").glob("*.eml"))
    tick(state, cfg, recover)

    observed = observed_in(state, cfg, recover)
    assert len(observed.busy["maria"]) == len(events)
    mine = with_maria(observed)
    assert collisions(mine, observed.busy["maria"], recover + cfg.scheduling.notice) == []
    moved = observed.bookings["group:americas"].series
    assert moved.sequence == group.sequence + 1  # one change
    updates = [p for p in set((state / "mail").glob("*.eml")) - before_mail
               if "X-Coachd-Kind: update" in p.read_text(errors="replace")
               and moved.spec.uid in p.read_text(errors="replace")]
    assert len(updates) == len(moved.spec.everyone())  # one updated invitation per attendee
    assert observed.busy_unknown == {}
    assert datetime.now(UTC)  # keep the import honest for readers: times above are the virtual clock's


def test_a_busy_provider_that_cannot_be_asked_leaves_who_was_never_read_unknown(tmp_path):
    cfg = load_config(example_copy(tmp_path))
    state = tmp_path / "state"
    now = program_start(cfg) + timedelta(days=3)
    program = open_program(cfg, state, VirtualClock(now))
    try:  # throttled before the first sync ever read anyone
        program.set_meta("provider_health:busy", {"state": "throttled", "until": (now + timedelta(days=1)).isoformat(),
                                                  "error": "429 Too Many Requests", "since": now.isoformat()})
    finally:
        program.close()
    tick(state, cfg, now)
    observed = observed_in(state, cfg, now)
    with_busy = {p.id for p in cfg.people if p.busy}
    assert not [b for b in observed.bookings.values() if {a.person_id for a in b.series.spec.everyone()} & with_busy]
    assert set(observed.busy_unknown) == with_busy
    assert all("429 Too Many Requests" in error for error in observed.busy_unknown.values())
