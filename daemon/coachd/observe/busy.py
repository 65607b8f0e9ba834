"""People's own busy times (their `busy:` ICS files or feeds) as the busy role, and who is asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coachd.providers.base import BusyPerson
from coachd.providers.busy import EachPersonBusy
from coachd.providers.local.busy_ics import IcsBusySource, SourceLimits

if TYPE_CHECKING:
    from coachd.config import ProgramConfig


def own_busy(cfg: ProgramConfig) -> tuple[EachPersonBusy, tuple[BusyPerson, ...]]:
    """The busy provider reading each person's own `busy:` file or feed, and the people who have one.

    Each source is read within the config's `daemon.busy_limits`, several at once.
    """
    bounds = cfg.daemon.busy_limits
    limits = SourceLimits(deadline_seconds=bounds.deadline_seconds, max_bytes=bounds.max_bytes,
                          max_events=bounds.max_events, max_instances=bounds.max_instances)
    source = IcsBusySource({p.id: p.busy for p in cfg.people if p.busy}, cfg.base_dir,
                           zones={p.id: p.timezone for p in cfg.people}, limits=limits)
    provider = EachPersonBusy(source, workers=bounds.workers, deadline_seconds=bounds.deadline_seconds)
    return provider, tuple(BusyPerson(p.id, str(p.email)) for p in cfg.people if p.busy)


def everyone(cfg: ProgramConfig) -> tuple[BusyPerson, ...]:
    """Every person of the program, as an organizer-wide busy provider (Workspace, tenant) is asked."""
    return tuple(BusyPerson(p.id, str(p.email)) for p in cfg.people)
