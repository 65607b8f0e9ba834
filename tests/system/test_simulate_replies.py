"""The example's replies folder: Ana's feedback moves her from stress (weekly check-ins) to steady
(check-ins end) to momentum, in a simulation that reads the replies as they arrive."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from coachd.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
REPLIES = ROOT / "config" / "replies"


def test_the_example_replies_change_anas_check_in_cadence(tmp_path):
    out = tmp_path / "sim"
    result = CliRunner().invoke(main, ["simulate", str(EXAMPLE), "--until", "2027-02-08", "--out", str(out),
                                       "--replies", str(REPLIES)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    actions = [json.loads(line) for line in (out / "actions.jsonl").read_text().splitlines()]
    replies = [a for a in actions if a["action"] == "reply"]
    assert [r["status"] for r in replies] == ["handled"] * 3 and {r["from"] for r in replies} == {"ana"}
    states = [(a["at"][:10], a["state"]) for a in actions if a["action"] == "state"]
    assert states == [("2027-01-11", "stress"), ("2027-01-25", "steady"), ("2027-01-28", "momentum")]
    check_ins = [a for a in actions if a["action"] == "book" and a["series"] == "check_in:ana:1w"]
    assert [c["reason"] for c in check_ins] == ["new series", "check-ins no longer needed at this coachee's state"]
    sent = [a for a in actions if a["action"] == "send" and a["kind"] == "check-in" and a["to"] == "ana"]
    assert sent, "Ana got a check-in note before her weekly call while under stress"
    feedback = CliRunner().invoke(main, ["feedback", str(EXAMPLE), "--state", str(out), "--json"])
    rows = json.loads(feedback.output)["feedback"]
    assert [r["rating"] for r in rows] == [2, 4, 5]
    assert rows[0]["answers"]["2"].startswith("Less theory") and rows[0]["avoid"] == "running over time"
    assert rows[-1]["state"] == "momentum" and any("closed" in why for why in rows[-1]["state_because"])
