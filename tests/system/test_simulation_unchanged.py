"""Behaviour kept: twelve weeks of the example program send, book and log exactly what they did before.

The fingerprint (tests/fixtures/simulation/example-12-weeks.json) was recorded from the tree before the
move to daemon/coachd/ (issue 13): one hash per email (headers and decoded parts: kind, recipients,
dates, subject, bodies), per calendar file and for the action log, less reply tokens (signed with a
random secret) and PRODID (the version). A change that alters any of them fails here; when the change
is meant, record the fingerprint anew (see tests/support/simulation_fingerprint.py) and say why.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.simulation_fingerprint import fingerprint_hashes

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "simulation" / "example-12-weeks.json"


def _differences(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    lines = [f"missing: {name}" for name in sorted(recorded.keys() - now.keys())]
    lines += [f"new: {name}" for name in sorted(now.keys() - recorded.keys())]
    lines += [f"changed: {name}" for name in sorted(recorded.keys() & now.keys()) if recorded[name] != now[name]]
    return lines


def test_twelve_weeks_of_the_example_are_unchanged(twelve_weeks: tuple[Path, str]) -> None:
    out, _ = twelve_weeks
    recorded = json.loads(RECORDED.read_text())
    now = fingerprint_hashes(out)
    # One calendar file per series: the example books 20 of them.
    assert len(now["mail"]) > 900 and len(now["calendar"]) >= 20, "the simulation wrote what a year's start writes"
    mail = _differences(recorded["mail"], now["mail"])
    assert not mail, f"{len(mail)} emails differ, first ones: {mail[:10]}"
    calendar = _differences(recorded["calendar"], now["calendar"])
    assert not calendar, f"{len(calendar)} calendar files differ, first ones: {calendar[:10]}"
    assert (now["action_count"], now["actions"]) == (recorded["action_count"], recorded["actions"]), (
        "actions.jsonl differs"
    )
