"""Microsoft Graph access tokens from a config's Microsoft section: app-only client credentials or a stored login.

Both kinds hand the Graph client (client.py) a bearer token and take it back when Graph refused it
(`token(refresh=True)`). What they add to msal's own:

- the secret and the certificate are checked before anything runs (set, readable, mode 0600, a key
  and a certificate that belong together), with an error naming the config field, so `coachd check`
  and `run` refuse a bad one at once;
- a refusal says what the admin must do ("the client secret in $X was refused: create a new one",
  "log in again with `coachd auth microsoft CONFIG`", "consent was revoked") as CredentialsExpired,
  never with a token, secret or key in it; an identity platform out of reach is Transient;
- a delegated login's msal token cache lives in the state's credential store and is read there, under
  its lock, whenever a new access token is needed, and written back only when msal changed it
  (`has_state_changed`): Microsoft rotates refresh tokens, so the daemon and its sender process must
  never refresh over each other, and a new `coachd auth microsoft` is picked up without a restart.

msal's instance discovery is turned off (`instance_discovery=False`): the authority comes from the
admin's config (the public cloud, a national cloud or a proxy), and discovery would ask
login.microsoftonline.com about it from a sovereign cloud that may not reach it.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import msal
import msal.exceptions
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from coachd.providers.base import CredentialsExpired, Transient
from coachd.providers.credentials import CredentialStore, CredentialStoreError
from coachd.providers.family import ProviderRefused
from coachd.providers.microsoft.family import ROLE_PERMISSIONS, MicrosoftSection
from coachd.providers.microsoft.transport import DEFAULT_TIMEOUT_SECONDS, new_session

__all__ = ["AppCredentials", "AuthFileProblem", "Certificate", "DelegatedCredentials", "GraphCredentials",
           "credential_name", "delegated_scopes", "graph_credentials", "login_command", "read_certificate",
           "read_secret", "refusal"]

# A token is renewed this long before it expires, so that a call never starts with one about to die.
EARLY = timedelta(minutes=5)
# AADSTS codes that mean a person must log in again (expired, revoked, or a new condition to meet).
_LOGIN_AGAIN = {700082: "the refresh token expired (unused too long)", 50173: "the login was revoked",
                70008: "the refresh token expired", 700084: "the refresh token expired",
                50076: "multi-factor authentication is now required", 50079: "the account must register for MFA",
                50078: "multi-factor authentication expired", 53003: "a Conditional Access policy blocks it",
                50132: "the session was revoked (password change)", 70043: "the refresh token expired "
                "(Conditional Access sign-in frequency)", 50133: "the session expired (password change)"}
_CONSENT = {65001, 65004}
_TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error", "slow_down"}


class AuthFileProblem(ValueError):
    """A credential setting cannot be used; `option` is its field ("certificate", "secret_env")."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


class GraphCredentials(Protocol):
    """What the Graph client needs: a bearer token for `account`'s mailbox work."""

    @property
    def account(self) -> str: ...

    def token(self, refresh: bool = False) -> str:
        """A live access token; `refresh`: the last one was refused, get another from Entra.
        Raises CredentialsExpired (a person must act) or Transient (Entra out of reach)."""
        ...


@dataclass(frozen=True)
class Certificate:
    """An app's certificate credential: the private key signs the client assertion, the thumbprint names it."""

    path: str
    private_key_pem: str
    certificate_pem: str
    thumbprint: str  # SHA-1 of the DER certificate, hex: what the Entra portal shows

    def client_credential(self) -> dict[str, str]:
        # public_certificate lets msal compute both thumbprints and send x5c (subject name/issuer auth).
        return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}


def credential_name(section: MicrosoftSection, account: str) -> str:
    """The credential store entry of a delegated login: one per app and account."""
    return f"microsoft:{(section.client_id or '').lower()}:{account.lower()}"


def login_command(section: MicrosoftSection) -> str:
    return f"coachd auth microsoft {section.config_file or 'CONFIG'}"


def delegated_scopes(section: MicrosoftSection, roles: Sequence[str]) -> list[str]:
    """The delegated scopes of `roles` as full URIs of the configured Graph (a national cloud's own)."""
    return sorted({f"{section.graph_url}/{name}" for role in roles for name in ROLE_PERMISSIONS[role]})


def app_scope(section: MicrosoftSection) -> str:
    """App-only access asks for every application permission the admin consented to: `<graph>/.default`."""
    return f"{section.graph_url}/.default"


def graph_credentials(section: MicrosoftSection, credential_store: CredentialStore | None, *,
                      organizer_email: str | None, role: str | None = None, roles: Sequence[str] = (),
                      timeout: float = DEFAULT_TIMEOUT_SECONDS,
                      clock: Callable[[], datetime] | None = None) -> GraphCredentials:
    """Credentials as `section` says: client credentials (secret or certificate), or the login kept in
    `credential_store` with the scopes of `roles` (default: `role`'s).

    Reads and checks the secret or certificate now and talks to nobody: the first Graph call gets the
    first token. A bad setting raises ProviderRefused naming `organizer.<role>.<option>` when `role` is
    given (AuthFileProblem, a ValueError, otherwise)."""
    try:
        identify(section)
        account = section.mailbox_of(organizer_email)
        if account is None:
            raise AuthFileProblem("mailbox", "name the mailbox coachd works in")
        if section.secret_env is not None:
            return AppCredentials(section, read_secret(section.secret_env), account, timeout=timeout)
        if section.certificate is not None:
            return AppCredentials(section, read_certificate(section.certificate), account, timeout=timeout)
        if credential_store is None:
            raise AuthFileProblem("client_id", "a delegated login needs the state's credential store")
        wanted = list(roles) or ([role] if role else [])
        return DelegatedCredentials(section, credential_store, account, delegated_scopes(section, wanted),
                                    timeout=timeout, clock=clock)
    except AuthFileProblem as problem:
        if role is not None:
            raise ProviderRefused(role, problem.option, problem.reason) from None
        raise


# --- the secret and the certificate ---------------------------------------------------------------


def identify(section: MicrosoftSection) -> None:
    """The app's tenant and client id are set (the schema lets a block name only its provider)."""
    if section.tenant is None:
        raise AuthFileProblem("tenant", "name the Microsoft Entra tenant (its id, or a domain of it)")
    if section.client_id is None:
        raise AuthFileProblem("client_id", "name the app registration's Application (client) ID")


def read_secret(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise AuthFileProblem("secret_env", f"the environment variable {variable} is not set (it holds the app's "
                                            "client secret; under systemd, set it with EnvironmentFile=)")
    return value


def read_certificate(path: str) -> Certificate:
    what = "expected a PEM file with the app's certificate and its unencrypted private key"
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise AuthFileProblem("certificate", f"{path} does not exist ({what})") from None
    except OSError as error:
        raise AuthFileProblem("certificate", f"cannot read {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(status.st_mode):
        raise AuthFileProblem("certificate", f"{path} is not a file ({what})")
    # Whoever reads the key acts as coachd in every mailbox the app may reach.
    if status.st_mode & 0o077:
        raise AuthFileProblem("certificate", f"{path} is readable by other users (mode "
                                             f"{stat.S_IMODE(status.st_mode):04o}); make it private with "
                                             f"`chmod 600 {path}`")
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise AuthFileProblem("certificate", f"cannot read {path}: {error.strerror or error}") from None
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise AuthFileProblem("certificate", f"{path} holds no PEM certificate ({what})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # Not the library's message: it may quote the file. TypeError: the key is encrypted.
        raise AuthFileProblem("certificate", f"{path} holds no unencrypted private key ({what})") from None
    public = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo) != public:
        raise AuthFileProblem("certificate", f"{path}: the private key does not belong to the certificate")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return Certificate(path, key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode(),
                       certificate.fingerprint(hashes.SHA1()).hex().upper())  # SHA-1: the thumbprint Entra shows


# --- refusals, explained ----------------------------------------------------------------------------


def _codes(result: dict[str, Any]) -> set[int]:
    codes = result.get("error_codes")
    return {code for code in codes if isinstance(code, int)} if isinstance(codes, list) else set()


def _description(result: dict[str, Any]) -> str:
    """The first line of Entra's error_description ("AADSTS700082: The refresh token has expired ..."),
    without its trace and correlation ids; an answer is never repeated beyond that."""
    text = str(result.get("error_description") or "")
    for cut in ("\r", "\n", " Trace ID:"):
        text = text.split(cut)[0]
    return text.strip()


def refusal(result: dict[str, Any], section: MicrosoftSection, who: str, *, delegated: bool
            ) -> CredentialsExpired | Transient:
    """coachd's error for msal's error answer `result`: what happened and what a person must do."""
    error = str(result.get("error") or "refused")
    codes = _codes(result)
    description = _description(result)
    detail = f"{error}: {description}" if description else error
    again = f"log in again with `{login_command(section)}`"
    if error in _TRANSIENT_ERRORS:
        return Transient(f"Microsoft Entra could not issue a token for {who} now ({detail})")
    if codes & _CONSENT:
        if delegated:
            return CredentialsExpired(f"consent for coachd was revoked or never given for {who} ({detail}): an "
                                      f"admin grants it (Enterprise applications > {section.client_id} > "
                                      f"Permissions), or {again}")
        return CredentialsExpired(f"the app {section.client_id} lacks admin consent in {section.tenant} ({detail}): "
                                  "an admin grants it under API permissions > Grant admin consent")
    if error == "invalid_client":
        if section.secret_env is not None:
            fix = (f"create a new client secret (Certificates & secrets) and put it in ${section.secret_env}")
        elif section.certificate is not None:
            fix = f"upload the certificate in {section.certificate} to the app (Certificates & secrets), or a new one"
        else:
            fix = "allow public client flows in the app registration (Authentication), or give secret_env"
        return CredentialsExpired(f"Microsoft Entra refused the app {section.client_id}'s credentials ({detail}): "
                                  f"{fix}")
    if error == "unauthorized_client":
        return CredentialsExpired(f"the app {section.client_id} is not known in tenant {section.tenant} or may not "
                                  f"do this ({detail}): check tenant and client_id, and the app's admin consent")
    if error in ("invalid_scope", "invalid_resource"):
        return CredentialsExpired(f"Microsoft Entra refused the permissions asked for {who} ({detail}): check "
                                  "graph_url and the app's API permissions")
    if delegated and (error in ("invalid_grant", "interaction_required") or codes & set(_LOGIN_AGAIN)):
        reason = next((_LOGIN_AGAIN[code] for code in sorted(codes) if code in _LOGIN_AGAIN), None)
        return CredentialsExpired(f"the login of {who} is no longer valid ({reason + ': ' if reason else ''}"
                                  f"{detail}): {again}")
    if error in ("invalid_grant", "invalid_request", "interaction_required"):
        return CredentialsExpired(f"Microsoft Entra refused a token for {who} ({detail})")
    # Anything else may pass (a gateway's answer, a new error): tried again, never in a tight loop.
    return Transient(f"Microsoft Entra refused a token for {who} ({detail})")


def _unreachable(error: Exception, section: MicrosoftSection, who: str) -> CredentialsExpired | Transient:
    """msal's exceptions: the network (Transient) or an authority that does not know the tenant."""
    if isinstance(error, requests.RequestException):
        return Transient(f"could not reach Microsoft Entra at {section.authority} for {who}: {type(error).__name__}")
    if isinstance(error, msal.exceptions.MsalServiceError):
        # msal raises this for an answer it cannot read as OAuth's (a 5xx, a gateway's page): an outage.
        return Transient(f"Microsoft Entra at {section.authority} failed for {who}: {str(error)[:200]}")
    text = str(error)
    if text.startswith(("OIDC Discovery failed", "Unable to get authority configuration")) or "invalid_instance" in text:
        # A 4xx on the tenant's openid configuration: no such tenant at this authority.
        return CredentialsExpired(f"Microsoft Entra at {section.authority} does not know the tenant "
                                  f"{section.tenant!r}: check `tenant` and `authority`")
    return Transient(f"Microsoft Entra at {section.authority} answered unexpectedly for {who}: "
                     f"{type(error).__name__}")


# --- the two kinds ---------------------------------------------------------------------------------


class AppCredentials:
    """App-only access (client credentials): a client secret or a certificate, no person involved."""

    def __init__(self, section: MicrosoftSection, credential: str | Certificate, account: str, *,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.section = section
        self._credential = credential
        self._account = account
        self._timeout = timeout
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    @property
    def account(self) -> str:
        return self._account

    @property
    def kind(self) -> str:
        return "a client secret" if isinstance(self._credential, str) else "a certificate"

    def _application(self) -> msal.ConfidentialClientApplication:
        # Built on first use: building asks the authority for the tenant's openid configuration.
        if self._app is None:
            credential = self._credential if isinstance(self._credential, str) else self._credential.client_credential()
            self._app = msal.ConfidentialClientApplication(
                self.section.client_id, client_credential=credential,
                authority=f"{self.section.authority}/{self.section.tenant}", http_client=new_session(self._timeout),
                instance_discovery=False, token_cache=msal.TokenCache())
        return self._app

    def token(self, refresh: bool = False) -> str:
        who = f"the app {self.section.client_id}"
        with self._lock:
            try:
                app = self._application()
                if refresh:
                    app.remove_tokens_for_client()  # msal answers from its cache otherwise
                result = app.acquire_token_for_client(scopes=[app_scope(self.section)])
            except (requests.RequestException, msal.exceptions.MsalError, ValueError, RuntimeError) as error:
                raise _unreachable(error, self.section, who) from None
        if "access_token" in result:
            return str(result["access_token"])
        raise refusal(result, self.section, who, delegated=False)


class DelegatedCredentials:
    """One account's login (`coachd auth microsoft`), its msal token cache kept in the credential store."""

    def __init__(self, section: MicrosoftSection, store: CredentialStore, account: str, scopes: Sequence[str], *,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, clock: Callable[[], datetime] | None = None) -> None:
        self.section = section
        self.scopes = list(scopes)
        self._store = store
        self._account = account
        self._timeout = timeout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._cache = msal.SerializableTokenCache()
        self._app: msal.PublicClientApplication | None = None
        self._lock = threading.Lock()
        # The last access token and when to stop using it: the store is read only to renew it.
        self._token: str | None = None
        self._renew_at = datetime.min.replace(tzinfo=UTC)

    @property
    def account(self) -> str:
        return self._account

    def _application(self) -> msal.PublicClientApplication:
        if self._app is None:
            self._app = msal.PublicClientApplication(
                self.section.client_id, authority=f"{self.section.authority}/{self.section.tenant}",
                http_client=new_session(self._timeout), instance_discovery=False, token_cache=self._cache)
        return self._app

    def _not_logged_in(self) -> CredentialsExpired:
        return CredentialsExpired(f"nobody has logged in to Microsoft 365 as {self._account} yet (or the login does "
                                  f"not cover {' '.join(self.scopes)}): run `{login_command(self.section)}`")

    def token(self, refresh: bool = False) -> str:
        with self._lock:
            if not refresh and self._token is not None and self._clock() < self._renew_at:
                return self._token
            self._token = None
            if not self._store.path.parent.is_dir():  # a state nobody has used yet (`check --online`)
                raise self._not_logged_in()
            try:
                return self._from_store(refresh)
            except CredentialStoreError as error:
                raise CredentialsExpired(str(error)) from error

    def _from_store(self, refresh: bool) -> str:
        who = self._account
        # Under the store's lock: a process that waited reads the tokens another one just wrote.
        with self._store.refreshing(credential_name(self.section, self._account)) as stored:
            serialized = (stored.value or {}).get("token_cache")
            if not isinstance(serialized, str) or not serialized:
                raise self._not_logged_in()
            self._cache.deserialize(serialized)
            try:
                app = self._application()
                accounts = app.get_accounts(username=self._account)
                if not accounts:
                    raise self._not_logged_in()
                result = app.acquire_token_silent_with_error(self.scopes, accounts[0], force_refresh=refresh)
            except (requests.RequestException, msal.exceptions.MsalError, ValueError, RuntimeError) as error:
                raise _unreachable(error, self.section, who) from None
            if self._cache.has_state_changed:  # a new access token, and a rotated refresh token
                stored.value = {**(stored.value or {}), "token_cache": self._cache.serialize()}
        if result is None:
            raise self._not_logged_in()  # no refresh token for these scopes in the cache
        if "access_token" not in result:
            raise refusal(result, self.section, who, delegated=True)
        lifetime = timedelta(seconds=int(result.get("expires_in") or 0))
        self._token = str(result["access_token"])
        self._renew_at = self._clock() + max(timedelta(0), lifetime - EARLY)
        return self._token
