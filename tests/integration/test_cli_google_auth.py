"""`coachd auth google CONFIG` end to end: the command runs as an admin runs it (its own process), the
test plays the browser against the fake's consent screen, and the stored login then works."""

from __future__ import annotations

import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.providers.credentials import CredentialStore
from coachd.providers.google.auth import credential_name, google_credentials
from tests.support.cli import invoke
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.oauth import AUTH_PATH, FakeOAuth, query_of
from tests.support.google_auth import (
    CALENDAR,
    GMAIL_MODIFY,
    GMAIL_SEND,
    ORGANIZER,
    GoogleSetup,
    add_probes,
    probe_calendar,
)

WAIT = 60  # seconds: a bound on a broken test, never reached by a working one


@pytest.fixture
def google(tmp_path: Path) -> Iterator[GoogleSetup]:
    with FakeGoogle() as fake:
        add_probes(fake)
        oauth = FakeOAuth(fake)
        oauth.browser_user = ORGANIZER
        yield GoogleSetup(fake, oauth, tmp_path)


class Command:
    """`coachd auth google` running in its own process, its output read line by line."""

    def __init__(self, config: Path, state: Path, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "coachd.cli.commands", "auth", "google", str(config), "--state", str(state),
             *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []

    def url(self) -> str:
        """The consent URL the command prints."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("http"):
                return line.strip()
        raise AssertionError(f"no URL printed: {''.join(self.lines)}{self.finish()[2]}")

    def paste(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=WAIT)
        return self.process.returncode, "".join(self.lines) + out, err


def run(config: Path, state: Path, *extra: str) -> tuple[int, str, str]:
    """In this process, for what needs no browser: quicker than a process of its own."""
    result = invoke("auth", "google", str(config), "--state", str(state), *extra)
    return result.exit_code, result.stdout, result.stderr


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def consent_redirect(url: str) -> str:
    """What a browser on another machine ends on: the loopback address it was sent to."""
    try:
        urllib.request.build_opener(NoRedirect).open(url, timeout=WAIT)
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
        return str(redirect.headers["Location"])
    raise AssertionError("the consent screen did not redirect")


def installed(google: GoogleSetup, roles: tuple[str, ...] = ("calendar",)) -> Path:
    client = google.oauth.register_client()
    google.oauth.client_secrets_file(google.folder / "client.json", client)
    return google.config(google.installed_auth(), roles=roles)


def test_the_loopback_login_stores_a_working_refresh_token(google: GoogleSetup) -> None:
    config = installed(google)
    state = google.folder / "state"
    command = Command(config, state)
    url = command.url()
    asked = query_of(url)
    assert url.startswith(google.fake.base_url + AUTH_PATH)
    assert (asked["access_type"], asked["prompt"], asked["code_challenge_method"]) == ("offline", "consent", "S256")
    assert asked["scope"] == f"{CALENDAR} openid email" and asked["login_hint"] == ORGANIZER
    assert asked["redirect_uri"].startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=WAIT) as page:  # the browser: consent, then the redirect
        assert b"You can close this window" in page.read()
    code, out, err = command.finish()
    assert code == 0, err
    assert f"Logged in as {ORGANIZER}" in out and "Traceback" not in err

    store = CredentialStore(state)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    stored = store.get(credential_name(ORGANIZER))
    assert stored is not None and stored["scopes"] == [CALENDAR]
    assert stored["refresh_token"] not in out + err
    auth = load_config(config).organizer.calendar.auth
    credentials = google_credentials(auth, (CALENDAR,), store, subject=ORGANIZER)
    assert probe_calendar(google.fake, credentials)["subject"] == ORGANIZER


def test_a_headless_login_takes_the_pasted_address(google: GoogleSetup) -> None:
    config = installed(google)
    command = Command(config, google.folder / "state")
    url = command.url()
    command.paste("not an address")
    command.paste(consent_redirect(url))  # the browser ran elsewhere: the loopback listener never heard
    code, _out, err = command.finish()
    assert code == 0, err
    assert "That is not the address Google sent the browser to" in err
    assert CredentialStore(google.folder / "state").get(credential_name(ORGANIZER)) is not None


def test_roles_sharing_an_account_log_in_once_with_every_scope(google: GoogleSetup) -> None:
    config = installed(google, roles=("calendar", "send", "receive"))
    command = Command(config, google.folder / "state")
    url = command.url()
    assert set(query_of(url)["scope"].split()) == {CALENDAR, GMAIL_SEND, GMAIL_MODIFY, "openid", "email"}
    urllib.request.urlopen(url, timeout=WAIT).close()
    code, out, err = command.finish()
    assert code == 0, err
    assert "organizer.calendar, organizer.send, organizer.receive" in out
    assert sum(line.startswith("http") for line in out.splitlines()) == 1  # one login, one URL


@pytest.mark.parametrize("browser, says", [
    ("deny", "Google did not grant access: access_denied"),
    ("untick", f"the consent did not grant {GMAIL_SEND}"),
    ("forged", "the answer does not belong to this login"),
    ("someone else", f"the browser logged in as dana@northwind.example, but coachd acts as {ORGANIZER}"),
])
def test_a_login_that_does_not_end_well_exits_2_saying_why(google: GoogleSetup, browser: str, says: str) -> None:
    config = installed(google, roles=("calendar", "send"))
    command = Command(config, google.folder / "state")
    url = command.url()
    if browser == "deny":
        google.oauth.deny_consent = True
    if browser == "someone else":  # signed in to the browser with their own account
        google.oauth.browser_user = "dana@northwind.example"
    if browser == "untick":
        google.oauth.consent_scopes = frozenset({CALENDAR})
    if browser == "forged":
        redirect = consent_redirect(url).replace(f"state={query_of(url)['state']}", "state=someone-elses")
        command.paste(redirect)
    else:
        urllib.request.urlopen(url, timeout=WAIT).close()
    code, _out, err = command.finish()
    assert code == 2 and says in err and "Traceback" not in err
    assert not (google.folder / "state" / "credentials.json").exists()


def test_no_answer_within_the_timeout_exits_2(google: GoogleSetup) -> None:
    code, _out, err = run(installed(google), google.folder / "state", "--timeout", "1")
    assert code == 2 and "no answer from the browser within 1 seconds" in err and "Traceback" not in err


def test_a_service_account_needs_no_login_and_the_delegation_is_printed(google: GoogleSetup) -> None:
    account = google.oauth.add_service_account()
    google.oauth.key_file(google.folder / "key.json", account)
    config = google.config(google.service_auth(), roles=("calendar", "busy"))
    code, out, err = run(config, google.folder / "state")
    assert code == 0, err
    assert f"the service account {account.email} acts for {ORGANIZER}; no login is needed" in " ".join(out.split())
    assert f"client id {account.client_id} must be allowed these scopes: {CALENDAR}," in out
    assert account.private_key_pem.splitlines()[1] not in out
    google.oauth.key_file(google.folder / "key.json", account, mode=0o644)
    code, out, err = run(config, google.folder / "state")
    assert code == 2 and "organizer.calendar.auth.service_account_key:" in err and "chmod 600" in err


def test_a_config_without_google_or_with_a_broken_client_file_exits_2(google: GoogleSetup) -> None:
    from tests.support.cli import config_with

    code, _out, err = run(config_with(google.folder), google.folder / "state")
    assert code == 2 and "nothing to log in to" in err
    config = installed(google)
    (google.folder / "client.json").write_text("{}")
    code, _out, err = run(config, google.folder / "state")
    assert code == 2 and "organizer.calendar.auth.client_secrets:" in err and "Traceback" not in err
