"""`coachd simulate` with inputs a person gets wrong, and on a config meant for real servers."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from coachd.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_an_end_before_the_start_is_a_clear_error(tmp_path):
    before_start = invoke("simulate", str(EXAMPLE), "--until", "2027-01-01", "--out", str(tmp_path / "a"))
    assert before_start.exit_code == 2
    assert "2027-01-01" in before_start.stderr and "2027-01-04" in before_start.stderr
    assert "Traceback" not in before_start.output
    reversed_span = invoke("simulate", str(EXAMPLE), "--from", "2027-02-01", "--until", "2027-01-20",
                           "--out", str(tmp_path / "b"))
    assert reversed_span.exit_code == 2 and "--from" in reversed_span.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_reply_file_that_cannot_be_delivered_is_named_and_skipped(tmp_path):
    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "no-date.eml").write_bytes(b"From: ana@northwind.example\r\nSubject: hi\r\n\r\nno date here\r\n")
    (replies / "garbage.eml").write_bytes(b"\xff\xfe\x00 not an email")
    (replies / "fine.eml").write_bytes(b"From: ana@northwind.example\r\nSubject: Re: agenda\r\n"
                                       b"Date: Tue, 05 Jan 2027 10:00:00 -0300\r\n\r\nThanks!\r\n")
    out = tmp_path / "out"
    result = invoke("simulate", str(EXAMPLE), "--until", "2027-01-07", "--out", str(out), "--replies", str(replies))
    assert result.exit_code == 0
    assert "no-date.eml" in result.stderr and "garbage.eml" in result.stderr
    assert "fine.eml" not in result.stderr
    delivered = list((out / "inbox" / "cur").glob("*")) + list((out / "inbox" / "new").glob("*"))
    assert len(delivered) == 1


def test_simulate_uses_the_embedded_providers_whatever_the_config_names(tmp_path, monkeypatch):
    text = EXAMPLE.read_text().replace(
        "send: {provider: file}", "send: {provider: smtp, host: smtp.northwind.example}").replace(
        "calendar: {provider: local}", "calendar: {provider: google, auth: {service_account_key: key.json}}").replace(
        "busy: calendars/", f"busy: {ROOT / 'config' / 'calendars'}/")
    config = tmp_path / "real.yaml"
    config.write_text(text)
    # Not even a database URL from the environment is used: a simulation writes only inside --out.
    monkeypatch.setenv("COACHD_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    out = tmp_path / "out"
    result = invoke("simulate", str(config), "--until", "2027-01-07", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert list((out / "mail").glob("*.eml")) and list((out / "calendar").glob("*.ics"))
    assert (out / "coachd.sqlite").exists()


def test_check_reports_providers_that_run_would_refuse(tmp_path):
    text = EXAMPLE.read_text().replace(
        "calendar: {provider: local}", "calendar: {provider: outlook}").replace(
        "busy: calendars/", f"busy: {ROOT / 'config' / 'calendars'}/")
    config = tmp_path / "real.yaml"
    config.write_text(text)
    result = invoke("check", str(config))
    assert result.exit_code == 2
    assert ("organizer.calendar.provider: 'outlook' is not available in this version of coachd; "
            "available: google, local") in result.stderr
    assert "Traceback" not in result.output
