"""`coachd auth microsoft CONFIG`: log the config's Microsoft 365 account in once, or say why none is needed.

Every Microsoft section of the organizer (calendar, busy, send, receive) names its app; sections
sharing one app and mailbox log in once, with every scope they need between them. App-only access (a
client secret or a certificate) needs no login: the secret or certificate is checked, and the
application permissions the admin must consent to are printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from coachd.config import ProgramConfig
from coachd.providers.credentials import CredentialStore, CredentialStoreError
from coachd.providers.microsoft.auth import (
    AuthFileProblem,
    credential_name,
    delegated_scopes,
    identify,
    read_certificate,
    read_secret,
)
from coachd.providers.microsoft.family import ROLE_PERMISSIONS, MicrosoftSection, microsoft_sections
from coachd.providers.microsoft.login import LoginFailed, device_login

DEFAULT_TIMEOUT_SECONDS = 900.0  # Entra's device codes live 15 minutes


class LoginError(Exception):
    """What stops the command, for the admin (exit 2)."""


@dataclass
class Account:
    """One app and mailbox to authorise, and every role it serves."""

    section: MicrosoftSection
    mailbox: str
    roles: list[str] = field(default_factory=list)

    @property
    def permissions(self) -> list[str]:
        return sorted({name for role in self.roles for name in ROLE_PERMISSIONS[role]})

    @property
    def fields(self) -> str:
        return ", ".join(f"organizer.{role}" for role in self.roles)

    def problem(self, problem: AuthFileProblem) -> LoginError:
        return LoginError(f"organizer.{self.roles[0]}.{problem.option}: {problem.reason}")


def accounts(cfg: ProgramConfig) -> list[Account]:
    """The config's Microsoft accounts, each with the roles it serves, in the order of the roles."""
    found: dict[tuple[object, ...], Account] = {}
    for role, section in microsoft_sections(cfg.organizer):
        mailbox = section.mailbox_of(str(cfg.organizer.email)) or ""
        key = (section.secret_env, section.certificate, (section.tenant or "").lower(), (section.client_id or "").lower(),
               section.authority, section.graph_url, mailbox.lower())
        found.setdefault(key, Account(section, mailbox)).roles.append(role)
    return list(found.values())


def microsoft_login(cfg: ProgramConfig, state: Path, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                    say: Callable[[str], None], sleep: Callable[[float], None] = time.sleep) -> None:
    """Authorise every Microsoft account of `cfg`: check app-only credentials, log delegated accounts in
    (their msal token caches go to `state`'s credential store). Raises LoginError with what went wrong."""
    found = accounts(cfg)
    if not found:
        raise LoginError(f"{cfg.source}: no organizer provider is Microsoft's (calendar, busy, send or receive: "
                         "outlook): nothing to log in to")
    for account in found:
        try:
            identify(account.section)
        except AuthFileProblem as problem:
            raise account.problem(problem) from None
        if account.section.app_only:
            _check_app(account, say)
        else:
            _log_in(account, state, timeout, say, sleep)


def _check_app(account: Account, say: Callable[[str], None]) -> None:
    section = account.section
    try:
        if section.secret_env is not None:
            read_secret(section.secret_env)
            how = f"a client secret (in ${section.secret_env})"
        else:
            assert section.certificate is not None
            certificate = read_certificate(section.certificate)
            how = f"the certificate in {certificate.path} (thumbprint {certificate.thumbprint})"
    except AuthFileProblem as problem:
        raise account.problem(problem) from None
    say(f"{account.fields}: the app {section.client_id} works in {account.mailbox} on its own, with {how}; "
        "no login is needed.")
    say(f"  In the Entra admin center (App registrations > {section.client_id} > API permissions), these "
        f"application permissions of Microsoft Graph need admin consent: {', '.join(account.permissions)}. "
        "Restrict the app to this mailbox with RBAC for Applications (see the README).")


def _log_in(account: Account, state: Path, timeout: float, say: Callable[[str], None],
            sleep: Callable[[float], None]) -> None:
    section = account.section
    scopes = delegated_scopes(section, account.roles)
    say(f"{account.fields}: sign in to Microsoft 365 as {account.mailbox} and accept coachd's permissions "
        f"({', '.join(account.permissions)}).")
    try:
        result = device_login(section, account.mailbox, scopes, say=say, timeout=timeout, sleep=sleep)
    except LoginFailed as error:
        raise LoginError(str(error)) from None
    store = CredentialStore(state)
    try:
        state.mkdir(parents=True, exist_ok=True)
        store.put(credential_name(section, account.mailbox), {
            "token_cache": result.token_cache, "tenant": section.tenant, "client_id": section.client_id,
            "scopes": list(result.scopes), "logged_in": datetime.now(UTC).isoformat(timespec="seconds")})
    except (CredentialStoreError, OSError) as error:
        raise LoginError(f"the login worked but cannot be kept: {error}") from None
    say(f"Logged in as {account.mailbox}: msal's token cache is kept in {store.path} (mode 0600). A running "
        "coachd uses it at its next pass.")
