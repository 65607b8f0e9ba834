"""Google credentials from a config's `auth:` block: a delegated service account or a stored user login.

Both kinds are google-auth credentials that refresh themselves, so every Google provider hands them
to `client.build_service` and never sees a token. What they add to google-auth's own:

- the files are checked before anything runs (readable, JSON of the right kind, mode 0600), with an
  error naming the config field, so `coachd check` and `run` refuse a bad one at once;
- a refused refresh says what the admin must do ("not delegated in the Admin console: add client id
  X with scopes Y", "no such user in the Workspace", "log in again with `coachd auth google CONFIG`")
  instead of the bare OAuth error code, and never carries a token, key or secret;
- a user login's refresh token lives in the state's credential store and is read there at every
  refresh, under its lock: a new `coachd auth google` is picked up by the running daemon without a
  restart, and the daemon and its sender process never refresh over each other.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth.credentials
import google.auth.exceptions
import google.oauth2.credentials
from google.oauth2 import service_account

from coachd.providers.credentials import CredentialStore, CredentialStoreError
from coachd.providers.family import ProviderRefused
from coachd.providers.google.family import GoogleAuth

__all__ = ["ClientSecrets", "GoogleAuthRefused", "ServiceAccountKey", "credential_name", "google_credentials",
           "login_command", "read_client_secrets", "read_service_account_key"]


class GoogleAuthRefused(google.auth.exceptions.RefreshError):
    """Google refused to issue a token, with `explanation`: what happened and what a person must do,
    free of token material. client.classify makes it CredentialsExpired with that text."""

    def __init__(self, explanation: str) -> None:
        super().__init__(explanation)
        self.explanation = explanation


class AuthFileProblem(ValueError):
    """A file named in the `auth:` block cannot be used; `option` is its field ("auth.client_secrets")."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


@dataclass(frozen=True)
class ServiceAccountKey:
    path: str
    info: dict[str, Any]

    @property
    def email(self) -> str:
        return str(self.info["client_email"])

    @property
    def client_id(self) -> str:
        """The number the Admin console's domain-wide delegation asks for."""
        return str(self.info.get("client_id") or "(see the key file's client_id)")


@dataclass(frozen=True)
class ClientSecrets:
    path: str
    client_id: str
    client_secret: str
    auth_uri: str


def credential_name(account: str) -> str:
    """The credential store entry of a Google user login."""
    return f"google:{account}"


def login_command(auth: GoogleAuth) -> str:
    return f"coachd auth google {auth.config_file or 'CONFIG'}"


def google_credentials(auth: GoogleAuth, scopes: Sequence[str], credential_store: CredentialStore | None, *,
                       subject: str | None = None, role: str | None = None) -> google.auth.credentials.Credentials:
    """Credentials for `scopes` as `auth` says: a service account acting for `auth.subject` (else
    `subject`, the organizer's email), or the user login kept in `credential_store`.

    Reads and checks the files named in `auth` now, and talks to nobody: the first API call gets the
    first token. A bad file raises ProviderRefused naming `organizer.<role>.auth.<option>` when `role`
    is given (AuthFileProblem, a ValueError, otherwise)."""
    account = auth.acting_for(subject)
    try:
        if auth.service_account_key is not None:
            key = read_service_account_key(auth.service_account_key)
            if account is None:
                raise AuthFileProblem("auth.subject", "name the Workspace user the service account acts for")
            return DelegatedServiceAccount.for_key(key, scopes, account, auth.token_uri)
        assert auth.client_secrets is not None  # GoogleAuth holds exactly one of the two
        secrets = read_client_secrets(auth.client_secrets)
        if account is None:
            raise AuthFileProblem("auth.subject", "name the Google account that logs in")
        if credential_store is None:
            raise AuthFileProblem("auth.client_secrets", "a user login needs the state's credential store")
        return StoredUserCredentials(credential_store, account, secrets, auth, scopes)
    except AuthFileProblem as problem:
        if role is not None:
            raise ProviderRefused(role, problem.option, problem.reason) from None
        raise


# --- the files --------------------------------------------------------------------------------------


def _read_private_json(path: str, option: str, what: str) -> dict[str, Any]:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise AuthFileProblem(option, f"{path} does not exist ({what})") from None
    except OSError as error:
        raise AuthFileProblem(option, f"cannot read {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(status.st_mode):
        raise AuthFileProblem(option, f"{path} is not a file ({what})")
    # Whoever can read the file can act as coachd in the whole Workspace (a key) or as the account.
    if status.st_mode & 0o077:
        raise AuthFileProblem(option, f"{path} is readable by other users (mode {stat.S_IMODE(status.st_mode):04o}); "
                                      f"make it private with `chmod 600 {path}`")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not UTF-8 text"
        raise AuthFileProblem(option, f"cannot read {path}: {reason}") from None
    try:
        data = json.loads(text)
    except ValueError:
        # Not the parser's message: it may quote the file's contents, a private key among them.
        raise AuthFileProblem(option, f"{path} is not valid JSON ({what})") from None
    if not isinstance(data, dict):
        raise AuthFileProblem(option, f"{path} is not a JSON object ({what})")
    return data


def read_service_account_key(path: str) -> ServiceAccountKey:
    what = "expected a service account's JSON key, as IAM > Service accounts > Keys > Add key > JSON downloads it"
    info = _read_private_json(path, "auth.service_account_key", what)
    if info.get("type") != "service_account":
        kind = "an OAuth client's secrets (use client_secrets for it)" if "installed" in info or "web" in info \
            else f"of type {info.get('type')!r}"
        raise AuthFileProblem("auth.service_account_key", f"{path} is {kind}, not a service account key")
    missing = [name for name in ("client_email", "private_key", "private_key_id") if not info.get(name)]
    if missing:
        raise AuthFileProblem("auth.service_account_key", f"{path} lacks {', '.join(missing)}: {what}")
    return ServiceAccountKey(path, info)


def read_client_secrets(path: str) -> ClientSecrets:
    what = "expected an OAuth client of type Desktop app, as APIs & Services > Credentials downloads it"
    data = _read_private_json(path, "auth.client_secrets", what)
    if data.get("type") == "service_account":
        raise AuthFileProblem("auth.client_secrets", f"{path} is a service account key (use service_account_key "
                                                     "for it), not an OAuth client")
    if "web" in data and "installed" not in data:
        raise AuthFileProblem("auth.client_secrets", f"{path} is a Web application client: create a Desktop app "
                                                     "client, whose login can come back to this machine")
    installed = data.get("installed")
    if not isinstance(installed, dict) or not installed.get("client_id") or not installed.get("client_secret"):
        raise AuthFileProblem("auth.client_secrets", f"{path} has no installed.client_id and client_secret: {what}")
    return ClientSecrets(path, str(installed["client_id"]), str(installed["client_secret"]),
                         str(installed.get("auth_uri") or "https://accounts.google.com/o/oauth2/auth"))


# --- refusals, explained -------------------------------------------------------------------------------


def _oauth_error(error: google.auth.exceptions.RefreshError) -> tuple[str | None, str]:
    """Google's `error` and `error_description` of a refused token request (google-auth keeps the
    response body as the second argument); nothing else, so no token can slip through."""
    details = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
    code = details.get("error")
    # An OAuth error is a string; a proxy or an API error shape may put an object there.
    return (code if isinstance(code, str) and code else None), str(details.get("error_description") or "")


def _transient(error: google.auth.exceptions.RefreshError, what: str) -> google.auth.exceptions.TransportError:
    code, description = _oauth_error(error)
    detail = f"{code} ({description})" if code else "a server error"
    return google.auth.exceptions.TransportError(f"Google's token endpoint failed {what}: {detail}")


class DelegatedServiceAccount(service_account.Credentials):
    """A service account acting for a Workspace user, its refusals explained for the admin."""

    _delegation_client_id = ""
    _key_path = ""

    @classmethod
    def for_key(cls, key: ServiceAccountKey, scopes: Sequence[str], subject: str,
                token_uri: str) -> DelegatedServiceAccount:
        # The config's token_uri wins over the key file's: the admin's proxy or private endpoint.
        info = {**key.info, "token_uri": token_uri}
        try:
            credentials = cls.from_service_account_info(info, scopes=list(scopes))
        except ValueError:
            # google-auth's message may quote the key; say only what is wrong.
            raise AuthFileProblem("auth.service_account_key", f"{key.path} holds no usable private key") from None
        credentials._delegation_client_id = key.client_id
        credentials._key_path = key.path
        return credentials.with_subject(subject)  # type: ignore[no-any-return]

    def _make_copy(self) -> DelegatedServiceAccount:
        copy: DelegatedServiceAccount = super()._make_copy()
        copy._delegation_client_id = self._delegation_client_id
        copy._key_path = self._key_path
        return copy

    def refresh(self, request: Any) -> None:
        try:
            super().refresh(request)
        except GoogleAuthRefused:
            raise
        except google.auth.exceptions.RefreshError as error:
            if error.retryable:
                raise _transient(error, f"for the service account {self.service_account_email}") from error
            raise GoogleAuthRefused(self._explain(error)) from error

    def _explain(self, error: google.auth.exceptions.RefreshError) -> str:
        code, description = _oauth_error(error)
        who = f"the service account {self.service_account_email} acting for {self._subject}"
        if code == "unauthorized_client":
            return (f"{who} is not delegated in the Admin console: add client id {self._delegation_client_id} "
                    f"with scopes {','.join(self._scopes or ())} (Security > Access and data control > "
                    "API controls > Domain-wide delegation)")
        if code == "invalid_grant" and "user" in description.lower():
            return f"no such user in the Workspace: {self._subject} (set auth.subject, or the organizer's email)"
        if code == "invalid_grant" and "signature" in description.lower():
            return (f"{who}: Google refused the key in {self._key_path} (deleted, or not this account's): "
                    "create a new key and point auth.service_account_key at it")
        return f"{who}: {code or 'refused'}" + (f" ({description})" if description else "")


class StoredUserCredentials(google.oauth2.credentials.Credentials):
    """A Google account's login, its refresh token read from the credential store at each refresh."""

    def __init__(self, store: CredentialStore, account: str, secrets: ClientSecrets, auth: GoogleAuth,
                 scopes: Sequence[str]) -> None:
        super().__init__(token=None, refresh_token=None, token_uri=auth.token_uri, client_id=secrets.client_id,
                         client_secret=secrets.client_secret, scopes=list(scopes))
        self._store = store
        self._account = account
        self._auth = auth

    @property
    def account(self) -> str:
        return self._account

    def refresh(self, request: Any) -> None:
        if not self._store.path.parent.is_dir():  # a state nobody has used yet (`check --online`)
            raise self._not_logged_in()
        try:
            self._refresh_stored(request)
        except CredentialStoreError as error:
            raise GoogleAuthRefused(str(error)) from error

    def _not_logged_in(self) -> GoogleAuthRefused:
        return GoogleAuthRefused(f"nobody has logged in to Google as {self._account} yet: "
                                 f"run `{login_command(self._auth)}`")

    def _refresh_stored(self, request: Any) -> None:
        # Under the store's lock: a process that waited reads the token another one just wrote.
        with self._store.refreshing(credential_name(self._account)) as stored:
            refresh_token = (stored.value or {}).get("refresh_token")
            if not isinstance(refresh_token, str) or not refresh_token:
                raise self._not_logged_in()
            self._refresh_token = refresh_token
            try:
                super().refresh(request)
            except google.auth.exceptions.RefreshError as error:
                if error.retryable:
                    raise _transient(error, f"for {self._account}") from error
                raise GoogleAuthRefused(self._explain(error)) from error
            if self._refresh_token != refresh_token:  # Google rotated it: keep the new one
                stored.value = {**(stored.value or {}), "refresh_token": self._refresh_token}

    def _explain(self, error: google.auth.exceptions.RefreshError) -> str:
        code, description = _oauth_error(error)
        again = f"log in again with `{login_command(self._auth)}`"
        if code == "invalid_grant":
            return f"the login of {self._account} is no longer valid ({description or code}): {again}"
        if code == "invalid_scope":
            return f"the login of {self._account} does not grant {' '.join(self._scopes or ())}: {again}"
        if code in ("invalid_client", "unauthorized_client"):
            return (f"Google refused the OAuth client in {self._auth.client_secrets} ({code}: deleted, or its "
                    f"secret was reset): download it again, then {again}")
        return f"the login of {self._account}: {code or 'refused'}" + (f" ({description})" if description else "")
