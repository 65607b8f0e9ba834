"""`coachd check` warns of series whose people share no working hour (issue 16, point 7): exit 0, with the
out-of-hours minutes and who carries them, after the summary."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from coachd.cli.commands import main

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
SAO_PAULO = 'timezone: America/Sao_Paulo,   hours: "09:00-18:00"'


def check(tmp_path: Path, text: str):
    folder = tmp_path / "program"
    shutil.copytree(EXAMPLE.parent / "calendars", folder / "calendars")
    (folder / "example.yaml").write_text(text)
    result = CliRunner().invoke(main, ["check", str(folder / "example.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output[result.output.index("OK: the config is valid."):]  # warnings come after the summary


def warning_about(after_summary: str, key: str) -> str:
    lines = [line for line in after_summary.splitlines() if line.strip().startswith(f"warning: {key} (")]
    assert len(lines) == 1, after_summary
    return lines[0]


def test_a_team_split_by_a_southern_hemisphere_clock_change_is_a_warning_with_its_figure(tmp_path):
    # Ana in Santiago from 12:30: her hours meet the team's only until the UK's clocks change (28 March)
    # and Chile's (4 April) move them apart; from then the team shares no hour until the autumn.
    text = EXAMPLE.read_text()
    assert SAO_PAULO in text
    after = check(tmp_path, text.replace(SAO_PAULO, 'timezone: America/Santiago,    hours: "12:30-21:00"'))
    line = warning_about(after, "group:americas")
    assert "from the week of 2027-03-29" in line
    assert "at least 60 out-of-hours minutes a session" in line
    assert "1,860 over the program" in line and "ana 1,860 min" in line


def test_the_example_warns_only_of_its_coaches_circle_across_three_continents(tmp_path):
    after = check(tmp_path, EXAMPLE.read_text())
    line = warning_about(after, "circle")
    assert "13 of its 13 sessions" in line and "maria 585 min" in line
    assert "group:" not in after and "individual:" not in after  # the teams share hours: nothing to say
