"""On a simulated state every command reads the simulation's clock; `coachd run` refuses to run from it."""

from __future__ import annotations

import re

from click.testing import CliRunner

from coachd.cli.commands import main
from tests.support.simulation import EXAMPLE


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_preview_digest_shows_the_last_period_by_the_simulation_clock_with_its_sessions_held(twelve_weeks):
    out, _ = twelve_weeks
    result = invoke("preview", str(EXAMPLE), "digest", "--state", str(out))
    assert result.exit_code == 0, result.output
    # The simulation stopped on 29 March: the last period ended is March's, not the program's first
    # (which the real clock, before the program, would pick), and its sessions were held.
    assert "digest Mon 1 Mar 2027 to Sun 28 Mar 2027" in result.output
    held = [int(n) for n in re.findall(r"(\d+)/\d+ held", result.output)]
    assert held and all(n > 0 for n in held)


def test_preview_summary_without_a_session_picks_the_next_one_by_the_simulation_clock(twelve_weeks):
    out, _ = twelve_weeks
    result = invoke("preview", str(EXAMPLE), "summary", "--state", str(out))
    assert result.exit_code == 0, result.output
    subject = next(line for line in result.output.splitlines() if line.startswith("Subject:"))
    assert "kickoff" not in subject.lower()
    assert re.search(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (29|30|31) Mar 2027|Apr 2027", subject), subject


def test_plan_is_as_of_the_simulation_clock(twelve_weeks):
    out, _ = twelve_weeks
    result = invoke("plan", str(EXAMPLE), "--state", str(out))
    assert result.exit_code == 0, result.output
    assert "plan as of 2027-03-29" in result.output.splitlines()[0]


def test_run_refuses_a_simulated_state_and_says_what_to_do(twelve_weeks):
    out, _ = twelve_weeks
    result = invoke("run", str(EXAMPLE), "--state", str(out))
    assert result.exit_code == 2
    assert "holds a simulation" in result.output and "coachd simulate" in result.output
    assert "Traceback" not in result.output
