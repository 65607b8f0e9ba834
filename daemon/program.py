"""A configured program wired to its store, providers and templates: what every job works on."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from daemon.clock import Clock
from daemon.config import ProgramConfig
from daemon.mail import Composer
from daemon.providers import registry
from daemon.providers.base import BusySource, CalendarProvider, Inbox, MailSender
from daemon.providers.busy_ics import IcsBusySource
from daemon.store.db import Store, database_url
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

    @property
    def id(self) -> str:
        return self.cfg.program.id

    def close(self) -> None:
        self.store.dispose()

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


def open_program(cfg: ProgramConfig, state_dir: Path, clock: Clock) -> Program:
    """Open the store (migrating it) and the providers the config names."""
    state_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(database_url(state_dir, cfg.store.url))
    organizer = cfg.organizer
    sources = {p.id: p.busy for p in cfg.people if p.busy}
    zones = {p.id: p.timezone for p in cfg.people}
    template_folder = cfg.resolve(cfg.templates.folder) if cfg.templates.folder else None
    return Program(
        cfg=cfg,
        state_dir=state_dir,
        store=store,
        calendar=registry.calendar_provider(organizer.calendar.provider, state_dir),
        busy=IcsBusySource(sources, cfg.base_dir, zones=zones),
        sender=registry.mail_sender(organizer.send.provider, state_dir),
        inbox=registry.inbox(organizer.receive.provider, state_dir),
        composer=Composer(template_folder),
        clock=clock,
    )
