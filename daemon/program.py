"""A configured program wired to its store, providers and templates: what every job works on."""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy.exc import SQLAlchemyError

from daemon.clock import Clock
from daemon.config import ProgramConfig
from daemon.mail import Composer
from daemon.providers import registry
from daemon.providers.base import BusySource, CalendarProvider, Inbox, MailSender
from daemon.providers.busy_ics import IcsBusySource
from daemon.store.db import Store, database_url, sqlite_url
from daemon.store.models import Meta

log = logging.getLogger("coachd")


def default_state_dir() -> Path:
    """`$STATE_DIRECTORY` under systemd, else `var/` in the working directory."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    return Path.cwd() / "var"


@dataclass
class Program:
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

    @property
    def id(self) -> str:
        return self.cfg.program.id

    def close(self) -> None:
        self.store.dispose()
        if self.lock is not None:
            self.lock.close()  # closing the file releases the flock

    def get_meta(self, name: str) -> object:
        """A small named value kept per program (cursors, fingerprints, the simulation's clock)."""
        with self.store.session() as db:
            row = db.get(Meta, (self.id, name))
            return None if row is None else row.value

    def set_meta(self, name: str, value: object) -> None:
        with self.store.session() as db:
            row = db.get(Meta, (self.id, name))
            if row is None:
                db.add(Meta(program_id=self.id, name=name, value=value))
            else:
                row.value = value


def send_options(cfg: ProgramConfig) -> dict[str, object]:
    """What the configured sender needs from `organizer.send`, beyond its name."""
    send = cfg.organizer.send
    if send.provider == "smtp":
        return {"host": send.host, "port": send.effective_port, "tls": send.tls, "username": send.username,
                "password_env": send.password_env}
    return {}


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


def open_program(cfg: ProgramConfig, state_dir: Path, clock: Clock, *, embedded: bool = False) -> Program:
    """Lock the state, open the store (migrating it) and the providers the config names.

    `embedded` (what `coachd simulate` uses) ignores the configured providers and database: the
    local calendar, file sender and maildir inbox, and SQLite, all inside `state_dir`, so that a
    simulation never books in a real calendar, mails real people or writes to a shared database.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        lock = lock_state(state_dir)
    except OSError as error:
        raise StateUnavailable(f"cannot use the state directory {state_dir}: {error.strerror or error}") from error
    try:
        url = sqlite_url(state_dir) if embedded else database_url(state_dir, cfg.store.url)
        store = Store.open(url)
    except (OSError, SQLAlchemyError) as error:
        lock.close()
        reason = getattr(error, "orig", None) or error
        raise StateUnavailable(f"cannot open the database for {state_dir}: {reason}") from error
    organizer = cfg.organizer
    sources = {p.id: p.busy for p in cfg.people if p.busy}
    zones = {p.id: p.timezone for p in cfg.people}
    template_folder = cfg.resolve(cfg.templates.folder) if cfg.templates.folder else None
    try:
        return Program(
            lock=lock,
            cfg=cfg,
            state_dir=state_dir,
            store=store,
            calendar=registry.calendar_provider("local" if embedded else organizer.calendar.provider, state_dir),
            busy=IcsBusySource(sources, cfg.base_dir, zones=zones),
            sender=registry.mail_sender("file" if embedded else organizer.send.provider, state_dir,
                                        **({} if embedded else send_options(cfg))),
            inbox=registry.inbox("maildir" if embedded else organizer.receive.provider, state_dir),
            composer=Composer(template_folder),
            clock=clock,
        )
    except Exception:
        store.dispose()
        lock.close()
        raise
