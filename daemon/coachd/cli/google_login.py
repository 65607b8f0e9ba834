"""`coachd auth google CONFIG`: log the config's Google account in once, or say why none is needed.

Every Google section of the organizer (calendar, busy, send, receive) names its `auth:`; sections
sharing one account and client log in once, with every scope they need between them. A service
account needs no login: its key is checked and the Admin console's delegation it needs is printed.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from coachd.config import ProgramConfig
from coachd.providers.credentials import CredentialStore, CredentialStoreError
from coachd.providers.google.auth import (
    AuthFileProblem,
    credential_name,
    read_client_secrets,
    read_service_account_key,
)
from coachd.providers.google.family import ROLE_SCOPES, GoogleAuth, google_sections, section_scopes
from coachd.providers.google.login import LoginFailed, LoopbackLogin

DEFAULT_TIMEOUT_SECONDS = 300.0


class LoginError(Exception):
    """What stops the command, for the admin (exit 2)."""


@dataclass
class Account:
    """One account to authorise and every role it serves."""

    auth: GoogleAuth
    account: str
    roles: list[str] = field(default_factory=list)
    # What a section asks beyond its role's scope (a Gmail sender reading Sent: gmail.readonly).
    extra_scopes: set[str] = field(default_factory=set)

    @property
    def scopes(self) -> list[str]:
        return sorted({scope for role in self.roles for scope in ROLE_SCOPES[role]} | self.extra_scopes)

    @property
    def fields(self) -> str:
        return ", ".join(f"organizer.{role}" for role in self.roles)

    def problem(self, problem: AuthFileProblem) -> LoginError:
        return LoginError(f"organizer.{self.roles[0]}.{problem.option}: {problem.reason}")


def accounts(cfg: ProgramConfig) -> list[Account]:
    """The config's Google accounts, each with the roles it serves, in the order of the roles."""
    found: dict[tuple[str, str | None, str, str], Account] = {}
    for role, section in google_sections(cfg.organizer):
        auth = section.auth
        account = auth.acting_for(str(cfg.organizer.email)) or ""
        key = (auth.kind, auth.service_account_key or auth.client_secrets, account, auth.token_uri)
        entry = found.setdefault(key, Account(auth, account))
        entry.roles.append(role)
        entry.extra_scopes.update(section_scopes(role, section))
    return list(found.values())


def google_login(cfg: ProgramConfig, state: Path, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 say: Callable[[str], None], stdin: TextIO | None = None) -> None:
    """Authorise every Google account of `cfg`: check service accounts, log users in (their refresh
    tokens go to `state`'s credential store). Raises LoginError with what went wrong."""
    found = accounts(cfg)
    if not found:
        raise LoginError(f"{cfg.source}: no organizer provider is Google's (calendar: google, busy: google, "
                         "send: gmail or receive: gmail): nothing to log in to")
    pasted = _PastedAnswers(stdin)
    for account in found:
        if account.auth.kind == "service_account":
            _check_service_account(account, say)
        else:
            _log_in(account, state, timeout, say, pasted)


def _check_service_account(account: Account, say: Callable[[str], None]) -> None:
    assert account.auth.service_account_key is not None
    try:
        key = read_service_account_key(account.auth.service_account_key)
    except AuthFileProblem as problem:
        raise account.problem(problem) from None
    say(f"{account.fields}: the service account {key.email} acts for {account.account}; no login is needed.")
    say(f"  In the Admin console (Security > Access and data control > API controls > Domain-wide delegation), "
        f"client id {key.client_id} must be allowed these scopes: {','.join(account.scopes)}")


def _log_in(account: Account, state: Path, timeout: float, say: Callable[[str], None],
            pasted: _PastedAnswers) -> None:
    assert account.auth.client_secrets is not None
    try:
        client = read_client_secrets(account.auth.client_secrets)
    except AuthFileProblem as problem:
        raise account.problem(problem) from None
    login = LoopbackLogin(client, account.scopes, account.auth.token_uri, account=account.account)
    url = login.start()
    try:
        say(f"{account.fields}: log in to Google as {account.account} and allow coachd "
            f"({' '.join(account.scopes)}).")
        say("Open this URL in a browser, on this machine or any other:")
        say("")
        say(url)
        say("")
        say(f"Waiting up to {timeout:g} seconds. If the browser ends on a page that does not load (it runs on "
            "another machine), paste that page's address here and press Enter.")
        pasted.feed(login)
        code = login.wait(timeout)
        result = login.exchange(code)
    except LoginFailed as error:
        raise LoginError(str(error)) from None
    finally:
        pasted.feed(None)
        login.stop()
    store = CredentialStore(state)
    try:
        state.mkdir(parents=True, exist_ok=True)
        store.put(credential_name(account.account), {
            "refresh_token": result.refresh_token, "client_id": client.client_id, "scopes": list(result.scopes),
            "logged_in": datetime.now(UTC).isoformat(timespec="seconds")})
    except (CredentialStoreError, OSError) as error:
        raise LoginError(f"the login worked but cannot be kept: {error}") from None
    say(f"Logged in as {account.account}: the refresh token is kept in {store.path} (mode 0600). A running "
        "coachd uses it at its next pass.")


class _PastedAnswers:
    """Lines typed on the terminal, handed to the login waiting for them (one reader for all logins:
    a second reader would race the first for the next line)."""

    def __init__(self, stdin: TextIO | None) -> None:
        self._stdin = stdin
        self._login: LoopbackLogin | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def feed(self, login: LoopbackLogin | None) -> None:
        with self._lock:
            self._login = login
        if login is not None and self._thread is None and self._stdin is not None:
            self._thread = threading.Thread(target=self._read, name="google-login-paste", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        assert self._stdin is not None
        for line in self._stdin:  # ends at end of input: then only the loopback answer counts
            with self._lock:
                login = self._login
            if login is not None and line.strip() and not login.answer_from_url(line):
                print("That is not the address Google sent the browser to (it has code= and state= in it); "
                      "paste it again.", file=sys.stderr, flush=True)
