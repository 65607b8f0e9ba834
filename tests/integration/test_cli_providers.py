"""Providers as an admin meets them: `check` refuses what `run` would refuse, naming the field;
options in the config reach the provider; `simulate` runs on the embedded ones whatever is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coachd.runtime.clock import VirtualClock
from coachd.config import load_config
from coachd.runtime.wiring import open_program
from tests.support.cli import invoke, config_with

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
UNSET = "COACHD_TEST_SMTP_PASSWORD_UNSET"






SERVERS = {
    "calendar": "{provider: google, auth: {service_account_key: google.json}}",
    "send": f"{{provider: smtp, host: smtp.northwind.example, username: coaching, password_env: {UNSET}}}",
    "receive": "{provider: outlook}",
}


def test_check_lists_every_provider_problem_run_would_refuse_by_field(tmp_path, monkeypatch):
    monkeypatch.delenv(UNSET, raising=False)
    config = config_with(tmp_path, **SERVERS)
    result = invoke("check", str(config), "--state", str(tmp_path / "state"))
    assert result.exit_code == 2
    assert "organizer.calendar.auth.service_account_key: " in result.stderr and "google.json does not exist" \
        in result.stderr
    # A bare outlook block: its factory names the first missing option.
    assert "organizer.receive.tenant: name the Microsoft Entra tenant (its id, or a domain of it)" in result.stderr
    assert f"organizer.send.password_env: the environment variable {UNSET} is not set" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "state").exists(), "check builds the providers away from the state"


def test_run_refuses_the_same_before_creating_a_database(tmp_path, monkeypatch):
    monkeypatch.delenv(UNSET, raising=False)
    config = config_with(tmp_path, send=SERVERS["send"])
    assert invoke("check", str(config)).exit_code == 2
    state = tmp_path / "state"
    result = invoke("run", str(config), "--state", str(state))
    assert result.exit_code == 2
    assert f"organizer.send.password_env: the environment variable {UNSET} is not set" in result.stderr
    assert not (state / "coachd.sqlite").exists()


def test_check_passes_what_run_can_start(tmp_path, monkeypatch):
    monkeypatch.setenv(UNSET, "s3cret")
    result = invoke("check", str(config_with(tmp_path, send=SERVERS["send"])))
    assert result.exit_code == 0, result.output
    assert "OK: the config is valid." in result.output


def test_smtp_options_in_the_config_reach_the_sender(tmp_path, monkeypatch):
    monkeypatch.setenv(UNSET, "s3cret")
    config = config_with(tmp_path, send=f"{{provider: smtp, host: relay.example, port: 2525, tls: implicit, "
                                        f"username: coaching, password_env: {UNSET}}}")
    program = open_program(load_config(config), tmp_path / "state",
                           VirtualClock(datetime(2027, 1, 1, tzinfo=UTC)))
    try:
        sender = program.sender
        assert (sender.host, sender.port, sender.tls, sender.username, sender.password) == (
            "relay.example", 2525, "implicit", "coaching", "s3cret")
        assert sender.connections_opened == 0, "building a sender connects to nothing"
    finally:
        program.close()


@pytest.mark.parametrize("host, refused", [
    ("relay.example", True),     # a login in clear over the network
    ("192.0.2.25", True),
    ("localhost", False),        # a server on this machine
    ("127.0.0.1", False),
    ("::1", False),
])
def test_a_plain_smtp_login_is_refused_unless_the_server_is_on_this_machine(tmp_path, monkeypatch, host, refused):
    monkeypatch.setenv(UNSET, "s3cret")
    config = config_with(tmp_path, send=f'{{provider: smtp, host: "{host}", tls: none, username: coaching, '
                                        f'password_env: {UNSET}}}')
    result = invoke("check", str(config))
    if refused:
        assert result.exit_code == 2, result.output
        assert f"organizer.send.tls: none would send the login to {host} in clear" in result.stderr
    else:
        assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_a_plain_relay_without_a_login_is_allowed(tmp_path):
    config = config_with(tmp_path, send="{provider: smtp, host: relay.example, port: 25, tls: none}")
    result = invoke("check", str(config))
    assert result.exit_code == 0, result.output


def test_check_names_an_option_the_provider_in_use_does_not_take(tmp_path):
    # `folder` is the IMAP folder to read; the maildir inbox has none, and `tenant` is Microsoft's.
    config = config_with(tmp_path, receive="{provider: maildir, folder: Replies}",
                         send="{provider: smtp, host: smtp.northwind.example, tenant: northwind}")
    result = invoke("check", str(config))
    assert result.exit_code == 2, result.output
    assert "organizer.receive.folder: not an option of the maildir inbox (it takes no options) (line" \
        in result.stderr
    assert ("organizer.send.tenant: not an option of the smtp sender (its options: host, port, username, "
            "password_env, tls, sent_folder) (line") in result.stderr
    assert "Traceback" not in result.output


def test_schema_documents_each_providers_own_options():
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    smtp = schema["$defs"]["SmtpSenderSection"]
    assert smtp["properties"]["provider"]["const"] == "smtp"
    assert set(smtp["properties"]) == {"provider", "host", "port", "username", "password_env", "tls",
                                          "sent_folder"}
    assert smtp["additionalProperties"] is False
    send = schema["$defs"]["Organizer"]["properties"]["send"]["oneOf"]
    assert {"$ref": "#/$defs/SmtpSenderSection"} in send and len(send) == 4


def test_check_is_silent_about_options_left_at_their_defaults():
    result = invoke("check", str(EXAMPLE))
    assert result.exit_code == 0
    assert "note:" not in result.output


@pytest.mark.parametrize("database", [None, "postgresql+psycopg://nobody@127.0.0.1:1/none"])
def test_simulate_runs_on_the_embedded_providers_whatever_the_config_names(tmp_path, monkeypatch, database):
    monkeypatch.delenv(UNSET, raising=False)  # an SMTP password that is not there does not matter either
    if database:
        monkeypatch.setenv("COACHD_DATABASE_URL", database)
    out = tmp_path / "out"
    result = invoke("simulate", str(config_with(tmp_path, **SERVERS)), "--until", "2027-01-06", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert list((out / "calendar").glob("*.ics")), "booked in the local calendar inside --out"
    assert list((out / "mail").glob("*.eml")), "mailed through the file sender inside --out"
    assert (out / "inbox" / "new").is_dir(), "reads the maildir inside --out"
    assert (out / "coachd.sqlite").exists()


def test_an_organizer_busy_provider_is_built_by_check_and_what_it_refuses_named_by_field(tmp_path):
    config = config_with(tmp_path)
    config.write_text(config.read_text().replace("  receive: {provider: maildir}",
                                                 "  busy: {provider: google, auth: {client_secrets: c.json}}\n  receive: {provider: maildir}", 1))
    result = invoke("check", str(config))
    assert result.exit_code == 2, result.output
    # Built as `run` would build it: its missing OAuth client file is named, by field and line.
    assert "organizer.busy.auth.client_secrets" in result.stderr and "(line" in result.stderr
    config.write_text(config.read_text().replace("busy: {provider: google, auth: {client_secrets: c.json}}",
                                                 "busy: {provider: outlook}", 1))
    result = invoke("check", str(config))
    assert result.exit_code == 2
    # Outlook free/busy is built too: a block naming only its provider is refused for its missing tenant.
    assert "organizer.busy.tenant: name the Microsoft Entra tenant" in result.stderr and "(line" in result.stderr
    config.write_text(config.read_text().replace("busy: {provider: outlook}", "busy: {provider: gmail}", 1))
    result = invoke("check", str(config))
    assert result.exit_code == 2
    assert "organizer.busy.provider: expected 'google' or 'outlook', got 'gmail' (line" in result.stderr


def test_provider_problems_name_the_file_and_the_line_as_every_other_problem_does(tmp_path, monkeypatch):
    monkeypatch.setenv(UNSET, "s3cret")
    config = config_with(tmp_path, send=f'{{provider: smtp, host: "relay.example", tls: none, username: coaching, '
                                        f'password_env: {UNSET}}}')
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "provider: smtp" in text)
    monkeypatch.chdir(tmp_path)
    result = invoke("check", config.name)  # a relative path, as an admin types it
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"{config.resolve()}: 1 problem(s) `coachd run` would refuse")
    assert f"in clear (line {line})" in result.stderr or f"(line {line})" in result.stderr.splitlines()[1]
