"""`coachd plan` on a state where sessions were held, at 80 columns: past series say when they met, conflicts
are in the program's time, and no raw UTC id or instant appears anywhere."""

from __future__ import annotations

import re

from click.testing import CliRunner

from coachd.cli.commands import main
from tests.support.simulation import EXAMPLE

RAW = re.compile(r"\d{8}T\d{6}Z|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def test_plan_of_a_running_program_reads_in_local_time_at_80_columns(twelve_weeks):
    out, _ = twelve_weeks
    # CliRunner's output is no terminal: rich lays it out at 80 columns, the narrowest an admin has.
    result = CliRunner().invoke(main, ["plan", str(EXAMPLE), "--state", str(out), "--at", "2027-02-16"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    text = " ".join(result.output.split())
    assert not RAW.findall(text), RAW.findall(text)[:5]
    # Lena is away on Monday 22 February: the sessions left in place say so in the program's time.
    assert "conflict: group:emea Mon 22 Feb 03:00 CST: lena busy or declined" in text
    assert "EMEA Strategic: program kickoff [booked] no session after now; the last was Mon 4 Jan 03:00 CST" in text
