"""`coachd check` refuses an Outlook calendar for sessions Graph could not hold, naming the kind and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.providers.microsoft.series_check import outlook_series_problems
from coachd.runtime.wiring import provider_problems
from tests.support.cli import config_with

OUTLOOK = "{provider: outlook, tenant: northwind.example, client_id: app-1}"
MARIA = "timezone: America/Chicago,     hours"


def program(tmp_path: Path, *, calendar: str = OUTLOOK, edits: tuple[tuple[str, str], ...] = ()) -> Path:
    path = config_with(tmp_path, calendar=calendar)
    text = path.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text)
    return path


def test_the_example_program_fits_an_outlook_calendar(tmp_path: Path) -> None:
    assert outlook_series_problems(load_config(program(tmp_path))) == []


def test_a_host_in_a_zone_graph_cannot_name_is_refused_per_session_kind(tmp_path: Path) -> None:
    # Maria coaches a team: its kickoff, group, one-to-ones, check-ins and wrap-up are all in her zone.
    cfg = load_config(program(tmp_path, edits=((MARIA, "timezone: Antarctica/Troll,     hours"),)))
    problems = outlook_series_problems(cfg)
    fields = {field for field, _ in problems}
    assert {"sessions.group", "sessions.individual", "sessions.kickoff", "sessions.wrapup",
            "check_ins.stress"} <= fields
    group = next(message for field, message in problems if field == "sessions.group")
    assert "group sessions" in group and "maria" in group and "Antarctica/Troll" in group
    assert "Windows name" in group
    # Sessions hosted by others are not blamed.
    assert all("maria" in message for _, message in problems)


def test_a_session_as_long_as_its_cadence_is_refused(tmp_path: Path) -> None:
    cfg = load_config(program(tmp_path, edits=(("group:          {every: 1w,  length: 60m}",
                                                 "group:          {every: 1w,  length: 7d}"),)))
    problems = outlook_series_problems(cfg)
    assert problems and {field for field, _ in problems} == {"sessions.group"}
    assert all("as long as the time between sessions" in message for _, message in problems)


def test_only_an_outlook_calendar_is_held_to_graphs_rules(tmp_path: Path) -> None:
    cfg = load_config(program(tmp_path, calendar="{provider: local}",
                              edits=((MARIA, "timezone: Antarctica/Troll,     hours"),)))
    assert outlook_series_problems(cfg) == []
    assert not any("Antarctica/Troll" in message for _, message in provider_problems(cfg))


@pytest.mark.parametrize("zone", ["Antarctica/Troll", "Europe/Uzhgorod"])
def test_check_lists_the_refusal_with_the_providers_problems(tmp_path: Path, zone: str) -> None:
    cfg = load_config(program(tmp_path, edits=((MARIA, f"timezone: {zone},     hours"),)))
    found = [(field, message) for field, message in provider_problems(cfg) if zone in message]
    assert "sessions.group" in {field for field, _ in found}
