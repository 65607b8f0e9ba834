"""A configured program wired to its store, providers and templates: what every job works on."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from coachd.runtime.clock import Clock
from coachd.config import ProgramConfig
from coachd.mail import Composer
from coachd.mail.reply_token import load_or_create_secret
from coachd.providers import registry
from coachd.providers.base import (
    BusySource,
    CalendarProvider,
    Inbox,
    MailSender,
    ProviderError,
)
from coachd.providers.credentials import CredentialStore
from coachd.providers.local.busy_ics import IcsBusySource
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy
from coachd.runtime.provider_health import RoleHealth
from coachd.store import meta_repo
from coachd.store.db import Store, StoreError, database_url, sqlite_url

log = logging.getLogger("coachd")


def default_state_dir() -> Path:
    """`$STATE_DIRECTORY` under systemd, else `var/` in the working directory."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    return Path.cwd() / "var"


@dataclass
class ProgramRuntime:
    cfg: ProgramConfig
    state_dir: Path
    store: Store
    calendar: CalendarProvider
    busy: BusySource
    sender: MailSender
    inbox: Inbox
    composer: Composer
    clock: Clock
    lock: IO[bytes] | None = None
    # Shared with the sender process through the state directory (providers/credentials.py).
    credentials: CredentialStore | None = None
    # How provider calls are retried within a pass; tests give it a sleep that does not sleep.
    retry_policy: RetryPolicy = DEFAULT_POLICY
    _reply_secret: bytes | None = None
    _health: dict[str, RoleHealth] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.cfg.program.id

    def reply_secret(self) -> bytes:
        """The secret reply tokens are signed with, created in the state directory on first use."""
        if self._reply_secret is None:
            self._reply_secret = load_or_create_secret(self.state_dir)
        return self._reply_secret

    def health(self, role: str) -> RoleHealth:
        """The state of a provider role ("calendar", "busy", "send", "receive") across ticks; call
        its provider through `health(role).call(now, ...)` to have it retried and recorded."""
        if role not in self._health:
            self._health[role] = RoleHealth(role, self, self.credentials, self.retry_policy)
        health = self._health[role]
        health.policy = self.retry_policy
        return health

    def close(self) -> None:
        self.store.dispose()
        if self.lock is not None:
            self.lock.close()  # closing the file releases the flock

    def get_meta(self, name: str) -> object:
        """A small named value kept per program (cursors, fingerprints, the simulation's clock)."""
        with self.store.session() as db:
            return meta_repo.get(db, self.id, name)

    def set_meta(self, name: str, value: object) -> None:
        with self.store.session() as db:
            meta_repo.put(db, self.id, name, value)


# The organizer's provider blocks (organizer.calendar, .send, .receive) and what `simulate` runs
# instead of whatever they name.
ROLES = ("calendar", "send", "receive")
EMBEDDED = {"calendar": "local", "send": "file", "receive": "maildir"}
# Options holding a file name, which the config gives relative to itself.
PATH_OPTIONS = frozenset({"credentials"})
# The factory parameter through which a provider that logs in gets the state's credential store.
CREDENTIAL_STORE_OPTION = "credential_store"


def provider_options(cfg: ProgramConfig, role: str) -> dict[str, object]:
    """The settings of `organizer.<role>` that its provider takes, under the factory's parameter
    names (the config's own): every option of the block reaches the provider that can use it."""
    section = getattr(cfg.organizer, role)
    accepted = registry.accepted_options(role, section.provider) or frozenset()
    options: dict[str, object] = {}
    for name in sorted(accepted & set(type(section).model_fields)):
        value = section.effective_port if name == "port" else getattr(section, name)
        if name in PATH_OPTIONS and value:
            value = cfg.resolve(value)
        if value is not None:
            options[name] = value
    return options


def unused_provider_options(cfg: ProgramConfig) -> list[tuple[str, str]]:
    """(field, note) for each option set in an organizer block that its provider does not use (an
    imap `folder` under maildir, say): kept in the config, but worth a word from `coachd check`."""
    notes: list[tuple[str, str]] = []
    for role in ROLES:
        section = getattr(cfg.organizer, role)
        accepted = registry.accepted_options(role, section.provider)
        if accepted is None:  # not available at all: `check` reports that instead
            continue
        for name in sorted(section.model_fields_set - accepted - {"provider"}):
            notes.append((f"organizer.{role}.{name}", f"not used by the {section.provider!r} provider"))
    return notes


def build_provider(cfg: ProgramConfig, role: str, state_dir: Path, *, embedded: bool = False) -> Any:
    """The provider of `organizer.<role>` with its options, as `run` uses it; with `embedded`,
    the embedded one for that role in `state_dir` whatever the config names."""
    if embedded:
        return registry.provider(role, EMBEDDED[role], state_dir)
    name = getattr(cfg.organizer, role).provider
    options = provider_options(cfg, role)
    if CREDENTIAL_STORE_OPTION in (registry.accepted_options(role, name) or ()):
        options[CREDENTIAL_STORE_OPTION] = CredentialStore(state_dir)
    return registry.provider(role, name, state_dir, **options)


def provider_problems(cfg: ProgramConfig) -> list[tuple[str, str]]:
    """(field, message) for everything in the organizer's providers that `run` would refuse.

    Each provider is built exactly as `open_program` builds it, in a scratch directory, so that
    checking writes nothing to the state and connects to nothing (providers connect on first use).
    """
    problems: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="coachd-check-") as scratch:
        for role in ROLES:
            try:
                provider = build_provider(cfg, role, Path(scratch))
            except registry.ProviderRefused as error:
                problems.append((error.field, error.reason))
            except (ProviderError, ValueError) as error:
                problems.append((f"organizer.{role}", str(error)))
            else:
                _close(provider)
    return problems


def _close(provider: object) -> None:
    close = getattr(provider, "close", None)
    if callable(close):
        close()


class StateUnavailable(Exception):
    """The state directory or database cannot be used: in use by another coachd, unwritable, unreachable."""


def lock_state(state_dir: Path) -> IO[bytes]:
    """Hold `coachd.lock` in the state directory, so two daemons never work one program's state at once."""
    handle = (state_dir / "coachd.lock").open("a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().decode(errors="replace").strip() or "another process"
        handle.close()
        raise StateUnavailable(f"{state_dir} is in use by another coachd ({holder}); stop it first") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}".encode())
    handle.flush()
    return handle


def open_program(cfg: ProgramConfig, state_dir: Path, clock: Clock, *, embedded: bool = False,
                 locked: bool = True) -> ProgramRuntime:
    """Lock the state, open the providers the config names and the store (migrating it).

    `locked=False` is for a process the daemon holding the lock started itself (its mail sender).

    `embedded` (what `coachd simulate` uses) ignores the configured providers and database: the
    local calendar, file sender and maildir inbox, and SQLite, all inside `state_dir`, so that a
    simulation never books in a real calendar, mails real people or writes to a shared database.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        lock = lock_state(state_dir) if locked else None
    except OSError as error:
        raise StateUnavailable(f"cannot use the state directory {state_dir}: {error.strerror or error}") from error
    # Providers before the store: a provider `run` refuses stops it before any database is
    # created or migrated.
    try:
        calendar, sender, inbox = (build_provider(cfg, role, state_dir, embedded=embedded) for role in ROLES)
    except Exception:
        _close(lock)
        raise
    try:
        url = sqlite_url(state_dir) if embedded else database_url(state_dir, cfg.store.url)
        store = Store.open(url)
    except (OSError, StoreError) as error:
        _close(sender)
        _close(lock)
        reason = getattr(error, "orig", None) or error
        raise StateUnavailable(f"cannot open the database for {state_dir}: {reason}") from error
    sources = {p.id: p.busy for p in cfg.people if p.busy}
    zones = {p.id: p.timezone for p in cfg.people}
    template_folder = cfg.resolve(cfg.templates.folder) if cfg.templates.folder else None
    try:
        return ProgramRuntime(
            lock=lock,
            cfg=cfg,
            state_dir=state_dir,
            store=store,
            calendar=calendar,
            busy=IcsBusySource(sources, cfg.base_dir, zones=zones),
            sender=sender,
            inbox=inbox,
            composer=Composer(template_folder),
            clock=clock,
            credentials=CredentialStore(state_dir),
        )
    except Exception:
        store.dispose()
        _close(sender)
        _close(lock)
        raise
