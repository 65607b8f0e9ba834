"""Invoking the `coachd` command and writing the example program with other providers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from coachd.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def config_with(
    tmp_path: Path,
    *,
    calendar: str = "{provider: local}",
    send: str = "{provider: file}",
    receive: str = "{provider: maildir}",
) -> Path:
    """The example program with other organizer providers, written outside the repository."""
    text = EXAMPLE.read_text()
    for role, block in (("calendar", calendar), ("send", send), ("receive", receive)):
        default = {"calendar": "{provider: local}", "send": "{provider: file}", "receive": "{provider: maildir}"}[role]
        text = text.replace(f"{role}: {default}", f"{role}: {block}", 1)
    text = text.replace("busy: calendars/", f"busy: {ROOT / 'config' / 'calendars'}/")
    path = tmp_path / "program.yaml"
    path.write_text(text)
    return path
