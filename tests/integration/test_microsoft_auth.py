"""Microsoft credentials against the fake Entra, through real msal: app-only with a client secret or a
certificate, a delegated device-code login kept in the credential store (written only when msal
changed it), and every refusal explained for the admin, without a secret or token in it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.providers.base import CredentialsExpired, Transient
from coachd.providers.credentials import CredentialStore
from coachd.providers.family import ProviderRefused
from coachd.providers.microsoft.auth import DelegatedCredentials, credential_name, delegated_scopes, graph_credentials
from coachd.providers.microsoft.family import MicrosoftSection
from coachd.providers.microsoft.login import LoginFailed, device_login
from tests.support.fake_graph.identity import App
from tests.support.microsoft_auth import ORGANIZER, MicrosoftSetup, PersonAtTheBrowser, microsoft, probe_calendar


@pytest.fixture
def ms(tmp_path: Path) -> Iterator[MicrosoftSetup]:
    with microsoft(tmp_path) as setup:
        yield setup


def section_of(config: Path) -> MicrosoftSection:
    section = load_config(config).organizer.calendar
    assert isinstance(section, MicrosoftSection)
    return section


def app_only(ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch, app: App | None = None) -> tuple[App, str]:
    app = app or ms.app()
    secret = ms.identity.add_secret(app)
    monkeypatch.setenv("COACHD_GRAPH_SECRET", secret)
    ms.config(ms.section(app, "secret_env: COACHD_GRAPH_SECRET"))
    return app, secret


# --- app-only ----------------------------------------------------------------------------------------


def test_a_client_secret_gets_an_app_only_token_with_the_consented_permissions(
        ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    app, secret = app_only(ms, monkeypatch)
    credentials = graph_credentials(section_of(ms.folder / "program.yaml"), None, organizer_email=ORGANIZER,
                                    role="calendar")
    with caplog.at_level(logging.DEBUG):
        who = probe_calendar(ms.fake, credentials)
    assert who == {"id": "AAMkAGI2", "name": "Calendar", "canEdit": True, "mailbox": ORGANIZER, "kind": "app", "app": app.client_id, "user": None,
                   "permissions": ["Calendars.ReadWrite", "Mail.ReadWrite", "Mail.Send"]}
    token = credentials.token()
    assert secret not in caplog.text and token not in caplog.text
    # The token is cached: one token request for several calls.
    probe_calendar(ms.fake, credentials)
    assert [grant for grant, _status in ms.identity.answers] == ["client_credentials"]


def test_a_certificate_signs_the_assertion_entra_verifies(ms: MicrosoftSetup) -> None:
    app = ms.app()
    ms.identity.certificate_file(ms.folder / "graph.pem", app)
    ms.config(ms.section(app, "certificate: graph.pem"))
    credentials = graph_credentials(section_of(ms.folder / "program.yaml"), None, organizer_email=ORGANIZER,
                                    role="calendar")
    assert probe_calendar(ms.fake, credentials)["app"] == app.client_id


def test_a_certificate_entra_does_not_hold_is_refused_with_what_to_do(ms: MicrosoftSetup) -> None:
    app = ms.app()
    ms.identity.certificate_file(ms.folder / "graph.pem", None)  # never uploaded to the app
    ms.config(ms.section(app, "certificate: graph.pem"))
    credentials = graph_credentials(section_of(ms.folder / "program.yaml"), None, organizer_email=ORGANIZER)
    with pytest.raises(CredentialsExpired, match="AADSTS700027.*upload the certificate in .*graph.pem"):
        credentials.token()


@pytest.mark.parametrize(("setup", "expected"), [
    ("wrong", "AADSTS7000215.*create a new client secret .* \\$COACHD_GRAPH_SECRET"),
    ("expired", "AADSTS7000222.*create a new client secret"),
])
def test_a_refused_secret_is_credentials_expired_without_the_secret(
        ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch, setup: str, expected: str) -> None:
    app, _secret = app_only(ms, monkeypatch)
    if setup == "wrong":
        monkeypatch.setenv("COACHD_GRAPH_SECRET", "not-the-secret")
    else:
        app.secrets = {value: ms.fake.now() for value in app.secrets}
    credentials = graph_credentials(section_of(ms.folder / "program.yaml"), None, organizer_email=ORGANIZER)
    with pytest.raises(CredentialsExpired, match=expected) as refused:
        credentials.token()
    assert "not-the-secret" not in str(refused.value)
    assert all(value not in str(refused.value) for value in app.secrets)


def test_an_unknown_tenant_or_app_is_named(ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    _app, _secret = app_only(ms, monkeypatch)
    section = section_of(ms.folder / "program.yaml")
    unknown_tenant = section.model_copy(update={"tenant": "contoso.example"})
    with pytest.raises(CredentialsExpired, match="does not know the tenant 'contoso.example'"):
        graph_credentials(unknown_tenant, None, organizer_email=ORGANIZER).token()
    unknown_app = section.model_copy(update={"client_id": "00000000-0000-0000-0000-000000000000"})
    with pytest.raises(CredentialsExpired, match="AADSTS700016.*check tenant and client_id"):
        graph_credentials(unknown_app, None, organizer_email=ORGANIZER).token()


def test_bad_settings_are_refused_before_anything_runs(ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    app = ms.app()
    monkeypatch.delenv("COACHD_GRAPH_SECRET", raising=False)
    with pytest.raises(ProviderRefused) as missing:
        graph_credentials(section_of(ms.config(ms.section(app, "secret_env: COACHD_GRAPH_SECRET"))), None,
                          organizer_email=ORGANIZER, role="calendar")
    assert missing.value.field == "organizer.calendar.secret_env"
    assert "COACHD_GRAPH_SECRET is not set" in missing.value.reason
    ms.identity.certificate_file(ms.folder / "open.pem", app, mode=0o644)
    with pytest.raises(ProviderRefused) as shared:
        graph_credentials(section_of(ms.config(ms.section(app, "certificate: open.pem"))), None,
                          organizer_email=ORGANIZER, role="send")
    assert shared.value.field == "organizer.send.certificate" and "chmod 600" in shared.value.reason
    # A key and a certificate that do not belong together.
    ms.identity.certificate_file(ms.folder / "a.pem", app)
    ms.identity.certificate_file(ms.folder / "b.pem", app)
    a, b = (ms.folder / "a.pem").read_text(), (ms.folder / "b.pem").read_text()
    mixed = ms.folder / "mixed.pem"
    mixed.write_text(a.split("-----BEGIN CERTIFICATE-----")[0] + "-----BEGIN CERTIFICATE-----"
                     + b.split("-----BEGIN CERTIFICATE-----")[1])
    mixed.chmod(0o600)
    with pytest.raises(ProviderRefused, match="does not belong to the certificate"):
        graph_credentials(section_of(ms.config(ms.section(app, "certificate: mixed.pem"))), None,
                          organizer_email=ORGANIZER, role="calendar")


def test_a_national_cloud_authority_is_used_as_configured(tmp_path: Path) -> None:
    with microsoft(tmp_path, host="login.microsoftonline.us") as ms:
        app = ms.app()
        ms.identity.certificate_file(ms.folder / "graph.pem", app)
        ms.config(ms.section(app, "certificate: graph.pem, authority: 'https://login.microsoftonline.us'"))
        credentials = graph_credentials(section_of(ms.folder / "program.yaml"), None, organizer_email=ORGANIZER)
        # The fake checks the assertion's audience: the token endpoint on login.microsoftonline.us.
        assert probe_calendar(ms.fake, credentials)["app"] == app.client_id


# --- delegated --------------------------------------------------------------------------------------


def delegated(ms: MicrosoftSetup) -> tuple[App, MicrosoftSection, CredentialStore]:
    app = ms.app(public_client=True, permissions=())
    section = section_of(ms.config(ms.section(app)))
    return app, section, CredentialStore(ms.folder)


def log_in(ms: MicrosoftSetup, section: MicrosoftSection, store: CredentialStore,
           person: PersonAtTheBrowser | None = None) -> None:
    person = person or PersonAtTheBrowser(ms.fake)
    result = device_login(section, ORGANIZER, delegated_scopes(section, ["calendar"]), say=person.say, timeout=60,
                          sleep=person.sleep)
    store.put(credential_name(section, ORGANIZER), {"token_cache": result.token_cache})


def test_a_device_code_login_is_kept_and_used_for_graph(ms: MicrosoftSetup) -> None:
    app, section, store = delegated(ms)
    person = PersonAtTheBrowser(ms.fake)
    log_in(ms, section, store, person)
    assert "signed in" in (person.page or "")
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    credentials = graph_credentials(section, store, organizer_email=ORGANIZER, role="calendar")
    who = probe_calendar(ms.fake, credentials)
    assert (who["kind"], who["user"], who["permissions"]) == ("delegated", ORGANIZER, ["Calendars.ReadWrite"])
    assert app.delegated_consent[ORGANIZER] == {"Calendars.ReadWrite"}


def test_the_token_cache_is_written_only_when_msal_changed_it(ms: MicrosoftSetup) -> None:
    _app, section, store = delegated(ms)
    log_in(ms, section, store)
    first = ms.identity.live_refresh_tokens(ORGANIZER)
    written = store.signature()
    credentials = graph_credentials(section, store, organizer_email=ORGANIZER, role="calendar")
    credentials.token()  # the login's access token, from the cache: nothing new to keep
    assert store.signature() == written
    credentials.token(refresh=True)  # a refresh: Entra rotates the refresh token, which must be kept
    assert store.signature() != written
    second = ms.identity.live_refresh_tokens(ORGANIZER)
    assert len(first) == len(second) == 1 and first != second
    cache = json.loads(store.get(credential_name(section, ORGANIZER))["token_cache"])  # type: ignore[index]
    assert [rt["secret"] for rt in cache["RefreshToken"].values()] == second
    # Another process (a fresh credentials object) picks up the rotated token from the store.
    fresh = graph_credentials(section, store, organizer_email=ORGANIZER, role="calendar")
    assert fresh.token(refresh=True)


@pytest.mark.parametrize(("kill", "expected"), [
    ("expire", r"refresh token expired \(unused too long\): invalid_grant: AADSTS700082"),
    ("revoke", r"the login was revoked: invalid_grant: AADSTS50173"),
    ("consent", r"consent for coachd was revoked .*AADSTS65001"),
])
def test_a_dead_login_says_what_to_run(ms: MicrosoftSetup, kill: str, expected: str) -> None:
    app, section, store = delegated(ms)
    log_in(ms, section, store)
    refresh_token = ms.identity.live_refresh_tokens(ORGANIZER)[0]
    {"expire": lambda: ms.identity.expire_refresh_tokens(ORGANIZER),
     "revoke": lambda: ms.identity.revoke_sessions(ORGANIZER),
     "consent": lambda: ms.identity.revoke_consent(app, ORGANIZER)}[kill]()
    credentials = graph_credentials(section, store, organizer_email=ORGANIZER, role="calendar")
    with pytest.raises(CredentialsExpired, match=expected) as dead:
        credentials.token(refresh=True)
    assert f"coachd auth microsoft {ms.folder / 'program.yaml'}" in str(dead.value)
    assert refresh_token not in str(dead.value) and "Trace ID" not in str(dead.value)


def test_nobody_logged_in_yet_says_what_to_run(ms: MicrosoftSetup) -> None:
    _app, section, store = delegated(ms)
    credentials = graph_credentials(section, store, organizer_email=ORGANIZER, role="calendar")
    assert isinstance(credentials, DelegatedCredentials)
    with pytest.raises(CredentialsExpired, match="nobody has logged in .* run `coachd auth microsoft"):
        credentials.token()


def test_a_login_as_someone_else_is_refused(ms: MicrosoftSetup) -> None:
    _app, section, store = delegated(ms)
    with pytest.raises(LoginFailed, match="signed in as dana@northwind.example, but coachd works in the mailbox"):
        log_in(ms, section, store, PersonAtTheBrowser(ms.fake, "dana@northwind.example"))
    assert store.get(credential_name(section, ORGANIZER)) is None


def test_a_declined_or_expired_code_ends_the_login(ms: MicrosoftSetup) -> None:
    _app, section, store = delegated(ms)
    with pytest.raises(LoginFailed, match="declined"):
        log_in(ms, section, store, PersonAtTheBrowser(ms.fake, consent=False))

    def fifteen_minutes_pass() -> None:
        later = ms.fake.now() + timedelta(minutes=16)
        ms.fake.now = lambda: later

    with pytest.raises(LoginFailed, match="expired"):
        log_in(ms, section, store, PersonAtTheBrowser(ms.fake, before=fifteen_minutes_pass))


def test_a_public_client_flow_the_app_does_not_allow_is_explained(ms: MicrosoftSetup) -> None:
    app = ms.app(public_client=False)
    section = section_of(ms.config(ms.section(app)))
    with pytest.raises(LoginFailed, match="AADSTS7000218.*allow public client flows"):
        log_in(ms, section, CredentialStore(ms.folder))


@pytest.mark.parametrize("status", [503, 502])
def test_an_identity_platform_outage_is_transient_not_expired_credentials(
        ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    app_only(ms, monkeypatch)
    credentials = graph_credentials(section_of(ms.folder / "program.yaml"), None, organizer_email=ORGANIZER)
    ms.identity.token_outages.append(status)
    with pytest.raises(Transient) as outage:
        credentials.token()
    assert not isinstance(outage.value, CredentialsExpired)
    asked = len(ms.identity.answers)
    # msal itself holds a failed token endpoint off for a few seconds (its throttled HTTP client):
    # a retry at once is answered from there, still Transient, without asking Entra again.
    with pytest.raises(Transient):
        credentials.token()
    assert len(ms.identity.answers) == asked


def test_no_token_of_a_login_reaches_the_log(ms: MicrosoftSetup, caplog: pytest.LogCaptureFixture) -> None:
    _app, section, store = delegated(ms)
    with caplog.at_level(logging.DEBUG):
        log_in(ms, section, store)
        credentials = graph_credentials(section, store, organizer_email=ORGANIZER, role="calendar")
        access = credentials.token(refresh=True)
        probe_calendar(ms.fake, credentials)
    assert access not in caplog.text
    assert not [token for token in ms.identity.refresh_grants if token in caplog.text]
