"""`coachd auth microsoft CONFIG`: a device-code login end to end (the person enters the code shown at
Microsoft's page, the fake's), app-only configs checked without a login, and every bad input an exit 2
with a clear message, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.providers.credentials import CredentialStore
from coachd.providers.microsoft.auth import credential_name, graph_credentials
from tests.support.cli import EXAMPLE, invoke
from tests.support.microsoft_auth import ALL_ROLES, ORGANIZER, MicrosoftSetup, microsoft, probe_calendar, run_login


@pytest.fixture
def ms(tmp_path: Path) -> Iterator[MicrosoftSetup]:
    with microsoft(tmp_path) as setup:
        yield setup


def test_a_device_code_login_end_to_end(ms: MicrosoftSetup) -> None:
    app = ms.app(public_client=True, permissions=())
    config = ms.config(ms.section(app), roles=ALL_ROLES)
    state = ms.folder / "state"
    code, out, err = run_login(ms, config, state)
    assert code == 0, err
    assert "organizer.calendar, organizer.busy, organizer.send, organizer.receive: sign in" in out
    assert "https://microsoft.com/devicelogin" in out and f"Logged in as {ORGANIZER}" in out
    # One login for the four roles, with every scope they need between them.
    assert app.delegated_consent[ORGANIZER] == {"Calendars.ReadWrite", "Calendars.Read", "Mail.Send", "Mail.ReadWrite"}
    store = CredentialStore(state)
    section = load_config(config).organizer.calendar
    kept = store.get(credential_name(section, ORGANIZER))
    assert kept is not None and kept["client_id"] == app.client_id
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    refresh_token = ms.identity.live_refresh_tokens(ORGANIZER)[0]
    assert refresh_token not in out + err  # shown to nobody
    credentials = graph_credentials(section, store, organizer_email=ORGANIZER, role="calendar")
    assert probe_calendar(ms.fake, credentials)["user"] == ORGANIZER


def test_signing_in_as_another_account_exits_2(ms: MicrosoftSetup) -> None:
    app = ms.app(public_client=True, permissions=())
    code, _out, err = run_login(ms, ms.config(ms.section(app)), ms.folder / "state", login="dana@northwind.example")
    assert code == 2 and "Traceback" not in err
    assert "signed in as dana@northwind.example, but coachd works in the mailbox coaching@northwind.example" in err


def test_app_only_needs_no_login_and_says_what_to_consent_to(ms: MicrosoftSetup,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    app = ms.app()
    monkeypatch.setenv("COACHD_GRAPH_SECRET", ms.identity.add_secret(app))
    ms.identity.certificate_file(ms.folder / "graph.pem", app)
    config = ms.config(ms.section(app, "secret_env: COACHD_GRAPH_SECRET"), roles=("calendar", "busy"))
    text = config.read_text().replace("send: {provider: file}", f"send: {{provider: outlook, "
                                      f"{ms.section(app, 'certificate: graph.pem')}}}")
    config.write_text(text)
    result = invoke("auth", "microsoft", str(config), "--state", str(ms.folder / "state"))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "organizer.calendar, organizer.busy: the app" in said and "no login is needed" in said
    assert "Calendars.Read, Calendars.ReadWrite" in said
    assert "organizer.send: the app" in said and "thumbprint" in said and "Mail.Send" in said
    assert not ms.identity.answers  # nothing asked of Entra
    assert not (ms.folder / "state").exists()


@pytest.mark.parametrize(("change", "expected"), [
    ("none", "no organizer provider is Microsoft's"),
    ("secret", "organizer.calendar.secret_env: the environment variable COACHD_UNSET_SECRET is not set"),
    ("certificate", "organizer.calendar.certificate: "),
    ("public", "AADSTS7000218"),
])
def test_bad_input_exits_2_without_a_traceback(ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch,
                                              change: str, expected: str) -> None:
    monkeypatch.delenv("COACHD_UNSET_SECRET", raising=False)
    app = ms.app()
    options = {"none": None, "secret": ms.section(app, "secret_env: COACHD_UNSET_SECRET"),
               "certificate": ms.section(app, "certificate: missing.pem"), "public": ms.section(app)}[change]
    config = EXAMPLE if options is None else ms.config(options)
    result = invoke("auth", "microsoft", str(config), "--state", str(ms.folder / "state"))
    assert result.exit_code == 2
    assert expected in " ".join(result.output.split())
    assert "Traceback" not in result.output
