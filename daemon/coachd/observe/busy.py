"""People's own busy times (their `busy:` ICS files or feeds) as the busy role, and who is asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coachd.providers.base import BusyPerson
from coachd.providers.busy import EachPersonBusy
from coachd.providers.local.busy_ics import IcsBusySource

if TYPE_CHECKING:
    from coachd.config import ProgramConfig


def own_busy(cfg: ProgramConfig) -> tuple[EachPersonBusy, tuple[BusyPerson, ...]]:
    """The busy provider reading each person's own `busy:` file or feed, and the people who have one."""
    source = IcsBusySource({p.id: p.busy for p in cfg.people if p.busy}, cfg.base_dir,
                           zones={p.id: p.timezone for p in cfg.people})
    return EachPersonBusy(source), tuple(BusyPerson(p.id, str(p.email)) for p in cfg.people if p.busy)


def everyone(cfg: ProgramConfig) -> tuple[BusyPerson, ...]:
    """Every person of the program, as an organizer-wide busy provider (Workspace, tenant) is asked."""
    return tuple(BusyPerson(p.id, str(p.email)) for p in cfg.people)
