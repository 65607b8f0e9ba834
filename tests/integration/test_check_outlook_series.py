"""`coachd check` with an Outlook calendar: sessions Graph could not hold are listed with what `run` refuses."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import config_with, invoke


def test_check_names_the_session_kind_graph_cannot_hold_and_exits_2(tmp_path: Path) -> None:
    path = config_with(tmp_path, calendar="{provider: outlook, tenant: northwind.example, client_id: app-1}")
    text = path.read_text().replace("timezone: America/Chicago,     hours", "timezone: Antarctica/Troll,     hours", 1)
    path.write_text(text)
    result = invoke("check", str(path), "--state", str(tmp_path / "state"))
    assert result.exit_code == 2, result.output
    # One problem per line, with the field and its line in the file; rich may wrap long lines.
    output = " ".join(result.output.split())
    assert "sessions.group" in output
    assert "group sessions (group:americas, hosted by maria in Antarctica/Troll)" in output
