"""An unreadable busy file is a warning of `coachd check`, never a refusal to run for everyone (issue 14, point 10)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from coachd.cli.commands import main
from coachd.config import ConfigError, load_config
from tests.support.ticks import EXAMPLE, program_start, tick

# A monthly rule whose BYSETPOS is out of range (dateutil: between 1 and 366, or -366 and -1), on line 9.
BYSETPOS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//busy//EN\r\nBEGIN:VEVENT\r\n"
            b"UID:board@example\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20270104T150000Z\r\n"
            b"DTEND:20270104T160000Z\r\nRRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=400\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n")
# A summary in Latin-1 (0xE9) on line 6: not UTF-8, as RFC 5545 requires.
LATIN1 = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//busy//EN\r\nBEGIN:VEVENT\r\n"
          b"UID:cafe@example\r\nSUMMARY:Caf\xe9 with the board\r\nDTSTAMP:20261201T000000Z\r\n"
          b"DTSTART:20270104T150000Z\r\nDTEND:20270104T160000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def example_copy(tmp_path: Path, maria: bytes | None) -> Path:
    """The example program in tmp_path, Maria's busy file replaced by `maria` (None: no file at all)."""
    folder = tmp_path / "program"
    shutil.copytree(EXAMPLE.parent / "calendars", folder / "calendars")
    shutil.copy(EXAMPLE, folder / "example.yaml")
    target = folder / "calendars" / "maria.ics"
    if maria is None:
        target.unlink()
    else:
        target.write_bytes(maria)
    return folder / "example.yaml"


def test_check_warns_about_an_out_of_range_bysetpos_and_exits_0(tmp_path):
    result = invoke("check", str(example_copy(tmp_path, BYSETPOS)))
    assert result.exit_code == 0, result.output
    assert "OK: the config is valid." in result.output
    warning = result.output[result.output.index("OK: the config is valid."):]  # warnings after the summary
    assert "warning" in warning.lower()
    assert "people[1].busy" in warning and "calendars/maria.ics" in warning
    assert "line 9" in warning and "BYSETPOS" in warning
    assert "Traceback" not in result.output


def test_check_warns_about_a_busy_file_that_is_not_utf8_and_exits_0(tmp_path):
    result = invoke("check", str(example_copy(tmp_path, LATIN1)))
    assert result.exit_code == 0, result.output
    warning = result.output[result.output.index("OK: the config is valid."):]
    assert "calendars/maria.ics" in warning and "line 6" in warning and "UTF-8" in warning


def test_check_warns_about_a_missing_busy_file_and_exits_0(tmp_path):
    result = invoke("check", str(example_copy(tmp_path, None)))
    assert result.exit_code == 0, result.output
    warning = result.output[result.output.index("OK: the config is valid."):]
    assert "people[1].busy" in warning and "file not found: calendars/maria.ics" in warning


def test_a_malformed_busy_url_stays_an_error(tmp_path):
    path = example_copy(tmp_path, None)
    path.write_text(path.read_text().replace("busy: calendars/maria.ics", "busy: 'https:///maria.ics'"))
    result = invoke("check", str(path))
    assert result.exit_code == 2
    assert "not a valid URL (no host): https:///maria.ics" in result.output


def test_the_daemon_starts_and_runs_for_everyone_else(tmp_path):
    for name, maria in (("missing", None), ("bysetpos", BYSETPOS)):
        try:
            cfg = load_config(example_copy(tmp_path / name, maria))
        except ConfigError as error:  # what `run` did before: refuse to start for everyone
            raise AssertionError(f"{name}: the config was refused: {error}") from None
        records, counts = tick(tmp_path / name / "state", cfg, program_start(cfg) + timedelta(days=3))
        booked = [r for r in records if r.kind == "book"]
        assert booked, name
        assert counts["outbox"] > 0, name


def test_busy_files_that_cannot_be_read_are_warnings_and_bad_urls_errors():
    from coachd.config.checks import busy_warnings, file_problems
    from coachd.config.yamltree import read_yaml

    fixture = Path(__file__).parents[1] / "fixtures" / "config" / "busy.yaml"
    data = read_yaml(fixture.read_text()).data
    base = fixture.parent
    assert [(path[1], message) for path, message in busy_warnings(data, base)] == [
        (0, f"file not found: calendars/missing.ics (looked for {base}/calendars/missing.ics)"),
        (1, ("calendars/broken.ics is not a valid iCalendar file: Content line could not be parsed into parts: "
             "'this is not a calendar': Invalid content line")),
        (2, "calendars is not a file"),
    ]
    assert [path[1] for path, _ in file_problems(data, base)] == [4, 5]
