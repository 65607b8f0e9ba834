"""Google credentials as an admin sets them up: a delegated service account or a stored user login,
each talking to the fake's real token endpoint through google-auth; refusals explained with what to
do; files checked before anything runs; no secret in any message or log line."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.config import ConfigError, load_config
from coachd.providers.base import CredentialsExpired
from coachd.providers.credentials import CredentialStore
from coachd.providers.family import ProviderRefused
from coachd.providers.google.auth import AuthFileProblem, credential_name, google_credentials
from coachd.providers.google.family import ROLE_SCOPES, GoogleAuth
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.oauth import FakeOAuth, InstalledClient, ServiceAccount
from tests.support.google_auth import CALENDAR, GMAIL_SEND, ORGANIZER, GoogleSetup, add_probes, probe_calendar


@pytest.fixture
def google(tmp_path: Path) -> Iterator[GoogleSetup]:
    with FakeGoogle() as fake:
        add_probes(fake)
        yield GoogleSetup(fake, FakeOAuth(fake), tmp_path)


# --- a user login (installed-app OAuth client) ---------------------------------------------------------


class Login:
    """An installed-app client, its config block, a state's credential store with a login in it."""

    def __init__(self, google: GoogleSetup, scopes: tuple[str, ...] = (CALENDAR,)) -> None:
        self.google = google
        self.client: InstalledClient = google.oauth.register_client()
        google.oauth.client_secrets_file(google.folder / "client.json", self.client)
        self.config = google.config(google.installed_auth())
        self.auth = load_config(self.config).organizer.calendar.auth
        self.store = CredentialStore(google.folder / "state")
        (google.folder / "state").mkdir()
        self.refresh_token = google.oauth.mint_refresh_token(self.client, ORGANIZER, scopes)
        self.store.put(credential_name(ORGANIZER), {"refresh_token": self.refresh_token})

    def credentials(self, scopes: tuple[str, ...] = (CALENDAR,)):  # type: ignore[no-untyped-def]
        return google_credentials(self.auth, scopes, self.store, subject=ORGANIZER, role="calendar")


def test_a_stored_login_gets_tokens_for_the_organizer_with_the_roles_scope_only(google: GoogleSetup) -> None:
    login = Login(google, scopes=(CALENDAR, GMAIL_SEND))
    answer = probe_calendar(google.fake, login.credentials())
    assert answer["subject"] == ORGANIZER and answer["scopes"] == [CALENDAR]  # narrowed to the role's scope
    assert [a.grant_type for a in google.oauth.answers] == ["refresh_token"]
    probe_calendar(google.fake, login.credentials())  # another provider, its own token: still no login asked


def test_a_revoked_login_says_to_log_in_again_with_the_command_and_config(google: GoogleSetup) -> None:
    login = Login(google)
    credentials = login.credentials()
    probe_calendar(google.fake, credentials)
    google.oauth.revoke(login.refresh_token)
    with pytest.raises(CredentialsExpired) as expired:
        probe_calendar(google.fake, credentials)
    message = str(expired.value)
    assert f"the login of {ORGANIZER} is no longer valid (Token has been expired or revoked.)" in message
    assert f"log in again with `coachd auth google {login.config}`" in message


def test_a_new_login_in_the_store_is_used_by_credentials_already_built(google: GoogleSetup) -> None:
    # What lets a running daemon resume by itself after `coachd auth google`: no restart.
    login = Login(google)
    credentials = login.credentials()
    google.oauth.revoke(login.refresh_token)
    with pytest.raises(CredentialsExpired):
        probe_calendar(google.fake, credentials)
    fresh = google.oauth.mint_refresh_token(login.client, ORGANIZER, (CALENDAR,))
    login.store.put(credential_name(ORGANIZER), {"refresh_token": fresh})
    assert probe_calendar(google.fake, credentials)["subject"] == ORGANIZER


def test_nobody_logged_in_yet_says_which_command_to_run(google: GoogleSetup) -> None:
    login = Login(google)
    login.store.delete(credential_name(ORGANIZER))
    credentials = login.credentials()  # built without a login: the daemon starts and reports it
    with pytest.raises(CredentialsExpired) as expired:
        probe_calendar(google.fake, credentials)
    assert f"nobody has logged in to Google as {ORGANIZER} yet: run `coachd auth google {login.config}`" \
        in str(expired.value)
    assert google.oauth.answers == []  # nothing was asked of Google


def test_a_scope_the_login_did_not_grant_says_to_log_in_again(google: GoogleSetup) -> None:
    login = Login(google, scopes=(CALENDAR,))
    with pytest.raises(CredentialsExpired) as expired:
        probe_calendar(google.fake, login.credentials(scopes=(CALENDAR, GMAIL_SEND)))
    assert f"does not grant {CALENDAR} {GMAIL_SEND}" in str(expired.value)


def test_a_rotated_refresh_token_is_written_back_to_the_store(google: GoogleSetup) -> None:
    login = Login(google)
    google.oauth.rotate_refresh_tokens = True
    probe_calendar(google.fake, login.credentials())
    stored = login.store.get(credential_name(ORGANIZER))
    assert stored is not None and stored["refresh_token"] != login.refresh_token
    assert google.oauth.live_refresh_tokens(ORGANIZER) == [stored["refresh_token"]]
    probe_calendar(google.fake, login.credentials())  # the old one is dead: only the stored one works


def test_a_deleted_oauth_client_says_to_download_it_again(google: GoogleSetup) -> None:
    login = Login(google)
    del google.oauth.clients[login.client.client_id]
    with pytest.raises(CredentialsExpired) as expired:
        probe_calendar(google.fake, login.credentials())
    assert "Google refused the OAuth client in" in str(expired.value) and "invalid_client" in str(expired.value)


# --- a service account with domain-wide delegation ------------------------------------------------------


class Delegation:
    def __init__(self, google: GoogleSetup, *, delegated: tuple[str, ...] = (CALENDAR,), mode: int = 0o600,
                 subject: str | None = None) -> None:
        self.google = google
        google.oauth.users.add(ORGANIZER)
        self.account: ServiceAccount = google.oauth.add_service_account(delegated=delegated)
        self.key = google.oauth.key_file(google.folder / "key.json", self.account, mode)
        self.config = google.config(google.service_auth(subject=subject))

    @property
    def auth(self) -> GoogleAuth:
        return load_config(self.config).organizer.calendar.auth  # type: ignore[no-any-return]

    def credentials(self, scopes: tuple[str, ...] = (CALENDAR,)):  # type: ignore[no-untyped-def]
        return google_credentials(self.auth, scopes, None, subject=ORGANIZER, role="calendar")


def test_a_delegated_service_account_acts_for_the_organizer(google: GoogleSetup) -> None:
    delegation = Delegation(google)
    answer = probe_calendar(google.fake, delegation.credentials())
    # The key file names Google's token endpoint; the config's token_uri (the fake's) was used.
    assert answer["subject"] == ORGANIZER and answer["scopes"] == [CALENDAR]
    assert [(a.grant_type, a.status) for a in google.oauth.answers] == [
        ("urn:ietf:params:oauth:grant-type:jwt-bearer", 200)]


def test_auth_subject_overrides_the_organizer(google: GoogleSetup) -> None:
    google.oauth.users.add("office@northwind.example")
    delegation = Delegation(google, subject="office@northwind.example")
    assert probe_calendar(google.fake, delegation.credentials())["subject"] == "office@northwind.example"


def test_a_service_account_not_delegated_names_the_client_id_and_scopes_to_add(google: GoogleSetup) -> None:
    delegation = Delegation(google, delegated=())
    with pytest.raises(CredentialsExpired) as expired:
        probe_calendar(google.fake, delegation.credentials())
    assert (f"is not delegated in the Admin console: add client id {delegation.account.client_id} with scopes "
            f"{CALENDAR}") in str(expired.value)
    google.oauth.delegate(delegation.account, [CALENDAR])  # the admin fixes it: the same credentials work
    assert probe_calendar(google.fake, delegation.credentials())["subject"] == ORGANIZER


def test_a_subject_missing_from_the_workspace_is_named(google: GoogleSetup) -> None:
    delegation = Delegation(google, subject="nobody@northwind.example")
    with pytest.raises(CredentialsExpired) as expired:
        probe_calendar(google.fake, delegation.credentials())
    assert "no such user in the Workspace: nobody@northwind.example" in str(expired.value)


def test_a_deleted_key_is_reported_as_such(google: GoogleSetup) -> None:
    delegation = Delegation(google)
    delegation.account.keys_deleted = True
    with pytest.raises(CredentialsExpired) as expired:
        probe_calendar(google.fake, delegation.credentials())
    assert f"Google refused the key in {delegation.key}" in str(expired.value)


# --- files checked before anything runs -------------------------------------------------------------------


def test_a_key_readable_by_others_is_refused_naming_the_field(google: GoogleSetup) -> None:
    delegation = Delegation(google, mode=0o644)
    with pytest.raises(ProviderRefused) as refused:
        delegation.credentials()
    assert refused.value.field == "organizer.calendar.auth.service_account_key"
    assert f"{delegation.key} is readable by other users (mode 0644); make it private with `chmod 600 " \
        in refused.value.reason
    assert google.oauth.answers == []


@pytest.mark.parametrize("content, says", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not a JSON object"),
    (json.dumps({"installed": {"client_id": "x", "client_secret": "y"}}), "is an OAuth client's secrets"),
    (json.dumps({"type": "authorized_user"}), "of type 'authorized_user', not a service account key"),
    (json.dumps({"type": "service_account", "client_email": "a@b"}), "lacks private_key, private_key_id"),
])
def test_a_key_file_of_the_wrong_kind_is_refused_without_quoting_it(google: GoogleSetup, content: str,
                                                                    says: str) -> None:
    delegation = Delegation(google)
    delegation.key.write_text(content)
    with pytest.raises(AuthFileProblem) as refused:
        google_credentials(delegation.auth, (CALENDAR,), None, subject=ORGANIZER)
    assert refused.value.option == "auth.service_account_key" and says in str(refused.value)
    assert "not json" not in str(refused.value)


def test_a_key_with_a_broken_private_key_is_refused_without_quoting_it(google: GoogleSetup) -> None:
    delegation = Delegation(google)
    info = json.loads(delegation.key.read_text())
    info["private_key"] = "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n"
    delegation.key.write_text(json.dumps(info))
    with pytest.raises(ProviderRefused) as refused:
        delegation.credentials()
    assert "holds no usable private key" in refused.value.reason and "SECRETSECRET" not in str(refused.value)


def test_a_missing_or_wrong_client_secrets_file_is_refused_naming_the_field(google: GoogleSetup) -> None:
    login = Login(google)
    path = google.folder / "client.json"
    path.write_text(json.dumps({"web": {"client_id": "x", "client_secret": "y"}}))
    with pytest.raises(ProviderRefused) as refused:
        login.credentials()
    assert refused.value.field == "organizer.calendar.auth.client_secrets"
    assert "is a Web application client: create a Desktop app client" in refused.value.reason
    os.chmod(path, 0o640)
    with pytest.raises(ProviderRefused, match="readable by other users"):
        login.credentials()
    path.unlink()
    with pytest.raises(ProviderRefused, match="does not exist"):
        login.credentials()


# --- the config -------------------------------------------------------------------------------------------


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as failed:
        load_config(path)
    return [str(problem) for problem in failed.value.problems]


def test_every_google_section_takes_api_root_and_auth_paths_beside_the_config(google: GoogleSetup) -> None:
    config = google.config(google.service_auth(), roles=("calendar", "busy", "send", "receive"))
    organizer = load_config(config).organizer
    for role in ROLE_SCOPES:
        section = getattr(organizer, role)
        assert section.api_root == google.fake.base_url
        assert section.auth.service_account_key == str(google.folder / "key.json")
        assert section.auth.token_uri == google.fake.token_uri and section.auth.config_file == str(config)


def test_a_google_section_without_auth_or_with_both_ways_is_a_config_problem(google: GoogleSetup) -> None:
    text = google.config(google.service_auth()).read_text()
    (google.folder / "none.yaml").write_text(text.replace(f", auth: {google.service_auth()}", ""))
    assert any("auth" in p and "required" in p.lower() for p in problems_of(google.folder / "none.yaml"))
    both = "{service_account_key: k.json, client_secrets: c.json}"
    found = problems_of(google.config(both, name="both.yaml"))
    assert any("give exactly one of service_account_key" in p for p in found)


def test_the_old_credentials_option_and_a_bad_api_root_are_refused(google: GoogleSetup) -> None:
    text = google.config(google.service_auth()).read_text()
    (google.folder / "old.yaml").write_text(text.replace("provider: google,", "provider: google, credentials: g.json,"))
    assert any("credentials" in p for p in problems_of(google.folder / "old.yaml"))
    (google.folder / "root.yaml").write_text(text.replace(f"api_root: '{google.fake.base_url}'", "api_root: nowhere"))
    assert any("expected an http(s) URL for the API root, got 'nowhere'" in p
               for p in problems_of(google.folder / "root.yaml"))


# --- no secret anywhere -------------------------------------------------------------------------------------


def test_no_token_key_or_secret_reaches_an_error_or_a_log_line(google: GoogleSetup,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login = Login(google)
    delegation = Delegation(google, delegated=())
    texts: list[str] = []
    credentials = login.credentials()
    probe_calendar(google.fake, credentials)
    access_token = credentials.token
    google.oauth.revoke(login.refresh_token)
    for build in (lambda: credentials, delegation.credentials):
        with pytest.raises(CredentialsExpired) as failed:
            probe_calendar(google.fake, build())
        error: BaseException | None = failed.value
        while error is not None:  # the whole chain, as a traceback would print it
            texts.append(repr(error) + str(error))
            error = error.__cause__ or error.__context__
    texts.append(caplog.text)
    texts.extend(str(record.args) for record in caplog.records)
    private_key_body = delegation.account.private_key_pem.splitlines()[1]
    secrets = {"refresh token": login.refresh_token, "client secret": login.client.client_secret,
               "private key": private_key_body, "access token": access_token}
    assert all(secret for secret in secrets.values())
    for text in texts:
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} appears in: {text[:200]}"


def test_the_program_hands_the_organizers_email_to_providers_that_take_it(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Google's factories default the user they act for to the organizer: `organizer_email`, as
    # `credential_store`, is passed only to a factory whose signature asks for it.
    from datetime import UTC, datetime

    from coachd.providers import registry
    from coachd.runtime.clock import VirtualClock
    from coachd.runtime.wiring import open_program
    from tests.support.cli import config_with

    built: dict[str, dict[str, object]] = {}
    real = registry.provider

    def provider(role, name, state_dir, **options):  # type: ignore[no-untyped-def]
        built[role] = options
        return real(role, name, state_dir, **{k: v for k, v in options.items() if k != "organizer_email"})

    monkeypatch.setattr(registry, "provider", provider)
    monkeypatch.setattr(registry, "accepted_options",
                        lambda role, name: frozenset({"organizer_email"}) if role == "calendar" else frozenset())
    program = open_program(load_config(config_with(tmp_path)), tmp_path / "state",
                           VirtualClock(datetime(2027, 1, 1, tzinfo=UTC)))
    program.close()
    assert built["calendar"]["organizer_email"] == ORGANIZER
    assert "organizer_email" not in built["send"]


def test_the_google_example_config_validates_with_one_auth_block_for_every_role() -> None:
    from tests.support.cli import ROOT

    cfg = load_config(ROOT / "config" / "example-google.yaml")
    auths = {getattr(cfg.organizer, role).auth for role in ROLE_SCOPES}
    assert len(auths) == 1 and next(iter(auths)).kind == "service_account"


def test_a_token_endpoint_that_fails_is_transient_not_expired_credentials(google: GoogleSetup,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth._exponential_backoff as backoff

    from coachd.providers.base import Transient

    monkeypatch.setattr(backoff.time, "sleep", lambda _seconds: None)  # google-auth's own retries
    login = Login(google)
    google.fake.faults.include_token = True
    google.fake.faults.fail_next("503", times=100, path_contains="/token")
    with pytest.raises(Transient) as failed:
        probe_calendar(google.fake, login.credentials())
    assert "token endpoint" in str(failed.value) and not isinstance(failed.value, CredentialsExpired)
    google.fake.faults.scripted.clear()
    assert probe_calendar(google.fake, login.credentials())["subject"] == ORGANIZER
