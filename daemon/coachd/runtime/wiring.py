"""A configured program wired to its store, providers and templates: what every job works on."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from coachd.runtime.clock import Clock
from coachd.config import ProgramConfig
from coachd.mail import Composer
from coachd.mail.reply_token import load_or_create_secret
from coachd.providers import registry
from coachd.observe.busy import everyone, own_busy
from coachd.providers.base import (
    BusyPerson,
    BusyProvider,
    CalendarProvider,
    CredentialsExpired,
    Inbox,
    MailSender,
    ProviderError,
)
from coachd.providers.credentials import CredentialStore
from coachd.providers.files import remove_leftover_writes
from coachd.providers.busy import CombinedBusy
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy
from coachd.runtime.provider_health import ExpiredListener, RoleHealth
from coachd.store import meta_repo
from coachd.store.db import Store, StoreError, database_url, sqlite_url
from coachd.store.program_lock import ProgramInUse

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
    busy: BusyProvider
    sender: MailSender
    inbox: Inbox
    composer: Composer
    clock: Clock
    lock: IO[bytes] | None = None
    # Shared with the sender process through the state directory (providers/credentials.py).
    credentials: CredentialStore | None = None
    # How provider calls are retried within a pass; tests give it a sleep that does not sleep.
    retry_policy: RetryPolicy = DEFAULT_POLICY
    # Whose busy times `busy` is asked for.
    busy_people: tuple[BusyPerson, ...] = ()
    _reply_secret: bytes | None = None
    _health: dict[str, RoleHealth] = field(default_factory=dict)
    # Set by the daemon on SIGTERM: long loops stop at their next `raise_if_stopping()`.
    stop_requested: threading.Event = field(default_factory=threading.Event)
    # Called at every cancellation point (the daemon feeds systemd's watchdog from it).
    on_checkpoint: Callable[[], None] | None = None
    # Told when a role's credentials are first refused (the jobs mail the organizer: runtime/jobs.py).
    on_credentials_refused: ExpiredListener | None = None

    @property
    def id(self) -> str:
        return self.cfg.program.id

    def raise_if_stopping(self) -> None:
        """A cancellation point: call it at the head of a loop whose every turn is a safe place to stop
        (between actions, messages, people). Raises `Stopping` once the daemon was asked to stop."""
        if self.on_checkpoint is not None:
            self.on_checkpoint()
        if self.stop_requested.is_set():
            raise Stopping(f"program {self.id}: stop requested")

    def reply_secret(self) -> bytes:
        """The secret reply tokens are signed with, created in the state directory on first use."""
        if self._reply_secret is None:
            self._reply_secret = load_or_create_secret(self.state_dir)
        return self._reply_secret

    def health(self, role: str) -> RoleHealth:
        """The state of a provider role ("calendar", "busy", "send", "receive") across ticks; call
        its provider through `health(role).call(now, ...)` to have it retried and recorded."""
        if role not in self._health:
            self._health[role] = RoleHealth(role, self, self.credentials, self.retry_policy, self._credentials_refused)
        health = self._health[role]
        health.policy = self.retry_policy
        return health

    def _credentials_refused(self, role: str, error: CredentialsExpired, since: datetime, now: datetime) -> None:
        if self.on_credentials_refused is not None:
            self.on_credentials_refused(role, error, since, now)

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


# The roles every program has a provider for; organizer.busy is optional and built apart.
ROLES = ("calendar", "send", "receive")
# The factory parameter through which a provider that logs in gets the state's credential store.
CREDENTIAL_STORE_OPTION = "credential_store"
# The factory parameter through which a provider that acts for a user (Google's default subject) gets
# the organizer's email.
ORGANIZER_EMAIL_OPTION = "organizer_email"


def build_provider(cfg: ProgramConfig, role: str, state_dir: Path, *, embedded: bool = False) -> Any:
    """The provider of `organizer.<role>` with its options, as `run` uses it; with `embedded`,
    the embedded one for that role in `state_dir` whatever the config names."""
    if embedded:
        return registry.provider(role, registry.embedded(role), state_dir)  # type: ignore[arg-type]
    section = getattr(cfg.organizer, role)
    options = section.options()
    accepted = registry.accepted_options(role, section.provider) or frozenset()
    if CREDENTIAL_STORE_OPTION in accepted:
        options[CREDENTIAL_STORE_OPTION] = CredentialStore(state_dir)
    if ORGANIZER_EMAIL_OPTION in accepted:
        options[ORGANIZER_EMAIL_OPTION] = str(cfg.organizer.email)
    return registry.provider(role, section.provider, state_dir, **options)


def build_busy(cfg: ProgramConfig, state_dir: Path, *, embedded: bool = False
               ) -> tuple[BusyProvider, tuple[BusyPerson, ...]]:
    """The program's busy provider and the people it is asked about: people's own `busy:` files and
    feeds, joined by organizer.busy for everyone when the config names one (not when `embedded`)."""
    own, people = own_busy(cfg)
    if embedded or cfg.organizer.busy is None:
        return own, people
    organizer_wide = build_provider(cfg, "busy", state_dir)
    return CombinedBusy(organizer_wide, own), everyone(cfg)


def provider_problems(cfg: ProgramConfig) -> list[tuple[str, str]]:
    """(field, message) for everything in the organizer's providers that `run` would refuse.

    Each provider is built exactly as `open_program` builds it, in a scratch directory, so that
    checking writes nothing to the state and connects to nothing (providers connect on first use).
    """
    problems: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="coachd-check-") as scratch:
        for role in registry.ROLES:
            if getattr(cfg.organizer, role) is None:
                continue
            try:
                provider = build_provider(cfg, role, Path(scratch))
            except registry.ProviderRefused as error:
                problems.append((error.field, error.reason))
            except (ProviderError, ValueError) as error:
                problems.append((f"organizer.{role}", str(error)))
            else:
                _close(provider)
    calendar = cfg.organizer.calendar
    if calendar is not None and calendar.provider == "outlook":
        # Graph cannot hold every rule an iCalendar can: the sessions Outlook would refuse are refused here,
        # never rounded to another rule. Imported only when named, as the registry imports a family.
        from coachd.providers.microsoft.series_check import outlook_series_problems

        problems += outlook_series_problems(cfg)
    return problems


def _close(provider: object) -> None:
    close = getattr(provider, "close", None)
    if callable(close):
        close()


class Stopping(BaseException):
    """Raised at a cancellation point after SIGTERM. A BaseException, like KeyboardInterrupt, so that the
    `except Exception` that keeps one bad person or message from stopping the others does not swallow it;
    every action is idempotent, so the work it cuts short is simply done again at the next start."""


class StateUnavailable(Exception):
    """The state directory or database cannot be used: in use by another coachd, unwritable, unreachable.

    `temporary` tells what may pass by itself (a database still starting, a full or read-only disk, a lock
    held by a coachd that is stopping: `coachd run` exits 75 and systemd starts it again) from what a person
    must fix (a permission, a password, a path that is a file: exit 2). When not given, it is judged from the
    error this one was raised from (`raise StateUnavailable(...) from error`)."""

    def __init__(self, message: str, *, temporary: bool | None = None) -> None:
        super().__init__(message)
        self._temporary = temporary

    @property
    def temporary(self) -> bool:
        if self._temporary is not None:
            return self._temporary
        return self.__cause__ is not None and is_temporary(self.__cause__)


# errno values that describe the machine's state now, not a mistake in the setup: a full disk or quota,
# a file system remounted read-only after an error, a device error, the network or a server not there yet.
TEMPORARY_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ENOMEM,
    errno.ETIMEDOUT, errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH,
    errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN,
})
# What database drivers say (psycopg, sqlite3; the store does not wrap them in types of its own), lower case.
# A person must fix these, whatever else the message says:
_PERMANENT_WORDS = ("password authentication failed", "authentication failed", "no pg_hba.conf entry",
                    "does not exist", "permission denied", "unable to open database file", "not a database",
                    "invalid dsn", "invalid connection option", "newer than")
# These pass by themselves (the server starts, the disk is freed, the network comes up):
_TEMPORARY_WORDS = ("connection refused", "could not connect", "connection timeout", "timeout expired", "timed out",
                    "the database system is starting up", "the database system is shutting down",
                    "the database system is in recovery mode", "too many clients", "remaining connection slots",
                    "server closed the connection", "connection reset", "no route to host", "network is unreachable",
                    "temporary failure in name resolution", "name or service not known",
                    "database or disk is full", "disk i/o error", "database is locked", "readonly database",
                    "read-only file system", "no space left on device", "disk quota exceeded")


def is_temporary(error: BaseException) -> bool:
    """Whether `error` (or what it was raised from) is a failure that waiting can cure: see StateUnavailable."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current.errno in TEMPORARY_ERRNOS
        text = str(current).lower()
        if any(words in text for words in _PERMANENT_WORDS):
            return False
        if any(words in text for words in _TEMPORARY_WORDS):
            return True
        # SQLAlchemy keeps the driver's error as `orig`; others chain with `raise ... from`.
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def make_private(state_dir: Path) -> None:
    """The state directory, 0700 whatever the umask: it holds every reply token, reply and note.

    Files coachd creates in it are 0600 as well (the database, the lock, the action log, mail and
    calendar files); a directory made earlier by someone else is left as it is."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if state_dir.stat().st_uid == os.getuid() and state_dir.stat().st_mode & 0o077:
        state_dir.chmod(0o700)


def lock_state(state_dir: Path) -> IO[bytes]:
    """Hold `coachd.lock` in the state directory, so two daemons never work one program's state at once."""
    handle = os.fdopen(os.open(state_dir / "coachd.lock", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().decode(errors="replace").strip() or "another process"
        handle.close()
        # Temporary: under systemd a restart waits for the old process, so the holder is a command an admin
        # runs (`coachd confirm`, `notes`) or a coachd that is stopping; exit 75 and systemd tries again.
        raise StateUnavailable(f"{state_dir} is in use by another coachd ({holder}); stop it first",
                               temporary=True) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}".encode())
    handle.flush()
    return handle


def _hold_program(store: Store, cfg: ProgramConfig, sender: object, lock: IO[bytes] | None) -> None:
    """On PostgreSQL, one daemon per program per database (store/program_lock.py), refused like a
    second daemon on one SQLite state; held until the store is disposed (ProgramRuntime.close)."""
    try:
        store.hold_program(cfg.program.id)
    except (ProgramInUse, StoreError) as error:
        store.dispose()
        _close(sender)
        _close(lock)
        raise StateUnavailable(str(error)) from error


def open_program(cfg: ProgramConfig, state_dir: Path, clock: Clock, *, embedded: bool = False,
                 locked: bool = True) -> ProgramRuntime:
    """Lock the state, open the providers the config names and the store (migrating it).

    `locked=False` is for a process the daemon holding the lock started itself (its mail sender).

    `embedded` (what `coachd simulate` uses) ignores the configured providers and database: the
    local calendar, file sender and maildir inbox, and SQLite, all inside `state_dir`, so that a
    simulation never books in a real calendar, mails real people or writes to a shared database.
    """
    try:
        make_private(state_dir)
        lock = lock_state(state_dir) if locked else None
        if locked:
            for path in remove_leftover_writes(state_dir):
                log.info("removed %s, a write a crash cut short (the file it was replacing is intact)", path)
    except OSError as error:
        raise StateUnavailable(f"cannot use the state directory {state_dir}: {error.strerror or error}") from error
    # Providers before the store: a provider `run` refuses stops it before any database is
    # created or migrated.
    try:
        calendar, sender, inbox = (build_provider(cfg, role, state_dir, embedded=embedded) for role in ROLES)
        busy, busy_people = build_busy(cfg, state_dir, embedded=embedded)
    except OSError as error:
        _close(lock)
        raise StateUnavailable(f"cannot use the state directory {state_dir}: {error.strerror or error}") from error
    except Exception:
        _close(lock)
        raise
    try:
        url = sqlite_url(state_dir) if embedded else database_url(state_dir, cfg.store.url)
        if url.startswith("sqlite:///"):
            # SQLite keeps a database file's mode, and gives its -wal and -shm files the same one.
            os.close(os.open(url.removeprefix("sqlite:///"), os.O_RDWR | os.O_CREAT, 0o600))
        store = Store.open(url)
    except (OSError, StoreError) as error:
        _close(sender)
        _close(lock)
        reason = getattr(error, "orig", None) or error
        raise StateUnavailable(f"cannot open the database for {state_dir}: {reason}") from error
    if locked and not embedded:
        _hold_program(store, cfg, sender, lock)
    template_folder = cfg.resolve(cfg.templates.folder) if cfg.templates.folder else None
    try:
        return ProgramRuntime(
            lock=lock,
            cfg=cfg,
            state_dir=state_dir,
            store=store,
            calendar=calendar,
            busy=busy,
            busy_people=busy_people,
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
