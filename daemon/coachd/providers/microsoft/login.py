"""A delegated login with the device code flow: a person enters a code at Microsoft's page, on any machine.

Headless servers have no browser: msal's device code flow prints a URL and a short code, the person
signs in wherever they are, and this end polls Entra's token endpoint until they have (or the code
expires). The answer lands in a fresh msal token cache, whose serialized form is what the credential
store keeps (auth.py reads it back there).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msal
import requests

from coachd.providers.microsoft.auth import refusal
from coachd.providers.microsoft.family import MicrosoftSection
from coachd.providers.microsoft.transport import DEFAULT_TIMEOUT_SECONDS, new_session


class LoginFailed(Exception):
    """The login did not end with tokens; the message says why (never a token)."""


@dataclass(frozen=True)
class LoginResult:
    account: str
    token_cache: str  # msal's SerializableTokenCache, serialized: refresh token included
    scopes: tuple[str, ...]


def device_login(section: MicrosoftSection, account: str, scopes: Sequence[str], *, say: Callable[[str], None],
                 timeout: float, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> LoginResult:
    """Log `account` in for `scopes`: show Microsoft's instructions with `say`, poll every `interval`
    seconds (Entra's, through `sleep`) for at most `timeout` seconds; refuse a login as anyone else."""
    cache = msal.SerializableTokenCache()
    try:
        app = msal.PublicClientApplication(section.client_id, authority=f"{section.authority}/{section.tenant}",
                                           http_client=new_session(DEFAULT_TIMEOUT_SECONDS),
                                           instance_discovery=False, token_cache=cache)
        flow = app.initiate_device_flow(scopes=list(scopes))
    except (requests.RequestException, ValueError, RuntimeError) as error:
        raise LoginFailed(f"could not start a login at {section.authority} for tenant {section.tenant}: "
                          f"{_short(error)}") from None
    if "user_code" not in flow:
        raise LoginFailed(f"Microsoft Entra refused to start a login: {refusal(flow, section, account, delegated=True)}")
    say(str(flow.get("message") or f"Open {flow.get('verification_uri')} and enter the code {flow['user_code']}"))
    # msal waits `interval` seconds between polls itself unless told to poll once; never zero, or
    # its loop would spin.
    flow["interval"] = max(1, int(flow.get("interval") or 5))
    deadline = clock() + timeout
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # msal's "attempted too soon": the interval is ours to keep
                result = app.acquire_token_by_device_flow(flow, exit_condition=lambda _flow: True)
        except requests.RequestException as error:
            raise LoginFailed(f"lost Microsoft Entra while waiting for the login: {_short(error)}") from None
        if "access_token" in result:
            break
        answer = result.get("error")
        if answer in ("authorization_pending", "slow_down"):
            if clock() >= deadline:
                raise LoginFailed(f"nobody entered the code within {timeout:g} seconds; run the command again")
            sleep(float(flow["interval"]))
            continue
        if answer == "expired_token":
            raise LoginFailed("the code expired before the login was finished; run the command again")
        if answer == "authorization_declined":
            raise LoginFailed("the login was declined at Microsoft's page; run the command again and accept")
        raise LoginFailed(str(refusal(result, section, account, delegated=True)))
    claims = result.get("id_token_claims") or {}
    who = str(claims.get("preferred_username") or "")
    if who.lower() != account.lower():
        # Kept, this login would book and mail as another person while coachd believes it is the mailbox.
        raise LoginFailed(f"signed in as {who or 'an unknown account'}, but coachd works in the mailbox {account}: "
                          f"run the command again and sign in as {account} (or set mailbox: {who})")
    granted = set(str(result.get("scope") or "").split())
    missing = sorted(set(scopes) - granted)
    if missing:
        raise LoginFailed(f"the login did not grant {' '.join(missing)}: run the command again and accept every "
                          "permission asked (or ask an admin to consent for the tenant)")
    return LoginResult(account, cache.serialize(), tuple(scopes))


def _short(error: Exception) -> str:
    return type(error).__name__ if isinstance(error, requests.RequestException) else str(error).split("\n")[0][:300]
