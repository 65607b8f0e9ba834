"""Each provider role's health across ticks: credentials that need a person, a service that asked to wait.

A role (calendar, busy, send, receive) whose credentials expired stops working for the pass, is
kept in the store (where `coachd status` shows it) and is tried again only when the credential
store changes (a person logged in) or an hour has passed: never in a loop. A role whose service
answered Throttled with a retry-after is left alone until then. Each change of state is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from coachd.providers.base import CredentialsExpired, Throttled
from coachd.providers.credentials import CredentialStore
from coachd.providers.retry import RetryPolicy

log = logging.getLogger("coachd.providers")

T = TypeVar("T")
# (role, the refusal, since when, now): called when a role's credentials are first refused.
ExpiredListener = Callable[[str, CredentialsExpired, datetime, datetime], None]

# Meta names: f"{HEALTH_META}:{role}"; `coachd status` lists them all.
HEALTH_META = "provider_health"
# How often a role whose credentials expired is tried again when nobody has logged in meanwhile.
RECHECK = timedelta(hours=1)
EXPIRED = "credentials_expired"
THROTTLED = "throttled"


class MetaStore(Protocol):
    """Where the state is kept: ProgramRuntime's per-program meta values."""

    def get_meta(self, name: str) -> object: ...

    def set_meta(self, name: str, value: object) -> None: ...


class RoleHealth:
    """One role's state (None: healthy), mirrored in memory so a healthy call costs no query."""

    def __init__(self, role: str, meta: MetaStore, credentials: CredentialStore | None,
                 policy: RetryPolicy, on_expired: ExpiredListener | None = None) -> None:
        self.role = role
        # Told once per episode, when the credentials are first refused (the organizer's email).
        self.on_expired = on_expired
        self.meta = meta
        self.credentials = credentials
        self.policy = policy
        self._state: dict[str, Any] | None = None
        self._loaded = False

    @property
    def state(self) -> dict[str, Any] | None:
        if not self._loaded:
            value = self.meta.get_meta(f"{HEALTH_META}:{self.role}")
            self._state = value if isinstance(value, dict) and value else None
            self._loaded = True
        return self._state

    def available(self, now: datetime) -> bool:
        """Whether to call the role's provider now."""
        return self.next_check(now) <= now

    def next_check(self, now: datetime) -> datetime:
        """When the role's provider may be called next (`now` when it may be called at once)."""
        state = self.state
        if state is None:
            return now
        if state["state"] == THROTTLED:
            return max(now, datetime.fromisoformat(state["until"]))
        if self._credentials_signature() != state.get("credentials"):
            return now  # someone logged in (or a refresh elsewhere worked): try at once
        return max(now, datetime.fromisoformat(state["tried"]) + RECHECK)

    def call(self, now: datetime, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`operation(*args, **kwargs)` under the retry policy, noting what it says about the role:
        CredentialsExpired and a Throttled that outlasts the policy are recorded, then raised;
        a success clears what was recorded."""
        try:
            result = self.policy.call(operation, *args, **kwargs)
        except CredentialsExpired as error:
            self.credentials_expired(now, error)
            raise
        except Throttled as error:
            if error.retry_after is not None:
                self._set({"state": THROTTLED, "until": (now + error.retry_after).isoformat(), "error": str(error),
                           "since": now.isoformat()})
                log.warning("%s provider throttled: not asked again before %s (%s)", self.role,
                            (now + error.retry_after).isoformat(), error)
            raise
        if self.state is not None:
            self._recovered(now)
        return result

    def credentials_expired(self, now: datetime, error: CredentialsExpired) -> None:
        """Record that the role needs a person; said loudly the first time, quietly on each recheck."""
        state = self.state
        again = state is not None and state["state"] == EXPIRED
        self._set({"state": EXPIRED, "since": state["since"] if again and state else now.isoformat(),
                   "tried": now.isoformat(), "error": str(error), "credentials": self._credentials_signature()})
        if again:
            log.info("%s provider: credentials still expired (%s); next try by %s", self.role, error,
                     (now + RECHECK).isoformat())
        else:
            log.error("%s provider: credentials expired, a person must log in again (%s); its work stops "
                      "until the credentials change, tried again at most once an hour", self.role, error)
            if self.on_expired is not None:
                try:
                    self.on_expired(self.role, error, now, now)
                except Exception:  # telling someone must never stop the work that goes on
                    log.exception("%s provider: could not queue the email about its credentials", self.role)

    def _recovered(self, now: datetime) -> None:
        log.warning("%s provider works again at %s (was %s)", self.role, now.isoformat(),
                    (self.state or {}).get("state"))
        self._set(None)

    def _set(self, state: dict[str, Any] | None) -> None:
        self.meta.set_meta(f"{HEALTH_META}:{self.role}", state or {})
        self._state, self._loaded = state, True

    def _credentials_signature(self) -> list[int] | None:
        if self.credentials is None:
            return None
        signature = self.credentials.signature()
        return None if signature is None else list(signature)
