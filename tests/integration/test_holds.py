"""A config change that would cancel many sessions waits for an admin: plan and status show it, confirm frees it."""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

from click.testing import CliRunner

from coachd.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def without_emea(tmp_path: Path) -> Path:
    """The example with the EMEA team dropped, as a careless edit would (its people stay listed)."""
    text = EXAMPLE.read_text()
    text = re.sub(r"\n  - \{id: emea,[^\n]*", "", text)
    text = text.replace("busy: calendars/", f"busy: {ROOT / 'config' / 'calendars'}/")
    path = tmp_path / "smaller.yaml"
    path.write_text(text)
    return path


def test_dropping_a_team_is_held_shown_and_applied_once_confirmed(tmp_path):
    out = tmp_path / "sim"
    assert invoke("simulate", str(EXAMPLE), "--until", "2027-01-18", "--out", str(out)).exit_code == 0
    smaller = without_emea(tmp_path)
    assert invoke("check", str(smaller)).exit_code == 0

    planned = invoke("plan", str(smaller), "--state", str(out), "--at", "2027-01-18")
    assert planned.exit_code == 0
    assert "held:" in planned.output and "group:emea" in planned.output
    hold_id = re.search(r"coachd confirm CONFIG (\w+)", planned.output).group(1)
    status = invoke("status", str(smaller), "--state", str(out), "--json")
    held = json.loads(status.output)["held"]
    assert [h["id"] for h in held] == [hold_id] and "group:emea" in held[0]["series"]

    # The daemon goes on without cancelling anything while the pass is held.
    assert invoke("simulate", str(smaller), "--until", "2027-01-20", "--out", str(out)).exit_code == 0
    kinds = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["X-Coachd-Kind"]
             for p in (out / "mail").glob("*.eml")]
    assert "cancellation" not in kinds

    wrong = invoke("confirm", str(smaller), "nosuchid", "--state", str(out))
    assert wrong.exit_code == 2 and hold_id in wrong.output
    assert invoke("confirm", str(smaller), hold_id, "--state", str(out)).exit_code == 0
    assert invoke("simulate", str(smaller), "--until", "2027-01-22", "--out", str(out)).exit_code == 0
    cancelled = [m for m in (email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                             for p in (out / "mail").glob("*.eml")) if m["X-Coachd-Kind"] == "cancellation"]
    recipients = {str(m["To"]).split("<")[-1].rstrip(">") for m in cancelled}
    assert {"lena@northwind.example", "claire@northwind.example", "thandi@northwind.example"} <= recipients
    status = json.loads(invoke("status", str(smaller), "--state", str(out), "--json").output)
    assert status["held"] == []
