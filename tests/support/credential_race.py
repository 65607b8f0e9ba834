"""A process that refreshes a credential if it has expired, for the credential store's race test (spawned)."""

from __future__ import annotations

from multiprocessing.synchronize import Event
from pathlib import Path

from coachd.providers.credentials import CredentialStore

WAIT = 30.0  # seconds: bounded, never reached when the other process is alive


def refresh_once(state: Path, calls: Path, name: str, role: str, first_inside: Event, second_ready: Event) -> None:
    """Refresh `name` unless it is fresh already, recording each refresh in `calls`.

    The "first" process signals once it holds the store, then waits until the "second" is about
    to ask for it, so that the second asks while the first is still refreshing."""
    store = CredentialStore(state)
    if role == "second":
        assert first_inside.wait(WAIT)
        second_ready.set()
    with store.refreshing(name) as credential:
        if role == "first":
            first_inside.set()
            assert second_ready.wait(WAIT)
        if credential.value is None or credential.value.get("token") == "expired":
            with calls.open("a") as log:
                log.write(f"{role}\n")
            credential.value = {"token": f"fresh from {role}"}
