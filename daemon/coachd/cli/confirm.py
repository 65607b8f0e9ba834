"""`coachd confirm`: let a held pass of cancellations go ahead, by the id `plan` and `status` show."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from coachd.config import ProgramConfig
from coachd.plan.planner import Hold, plan
from coachd.observe.observer import CONFIRMED_META, observe
from coachd.runtime.wiring import StateUnavailable
from coachd.store import meta_repo
from coachd.store.db import Store
from coachd.observe.readonly import existing_store, state_now


class NoSuchHold(Exception):
    """The id names no cancellation pass that is held now."""


def held_now(cfg: ProgramConfig, store: Store) -> list[Hold]:
    """The holds the planner would report now (on the simulation's clock for a simulated state)."""
    now = state_now(store, cfg.program.id)
    return plan(cfg, observe(store, cfg.program.id), now, session_mail=False, program_mail=False).held


def confirm(console: Console, cfg: ProgramConfig, state: Path, hold_id: str) -> None:
    with existing_store(cfg, state, readonly=False) as store:
        if store is None:
            raise StateUnavailable(f"nothing is booked in {state}: there is nothing to confirm")
        holds = {h.id: h for h in held_now(cfg, store)}
        hold = holds.get(hold_id)
        if hold is None:
            listed = ", ".join(sorted(holds)) or "none"
            raise NoSuchHold(f"no held cancellations with id {hold_id!r} (held now: {listed})")
        with store.session() as db:
            confirmed = sorted(set(meta_repo.get(db, cfg.program.id, CONFIRMED_META) or []) | {hold_id})
            meta_repo.put(db, cfg.program.id, CONFIRMED_META, confirmed)
    console.print(f"confirmed {hold.id}: {hold.occurrences} future occurrences of "
                  f"{', '.join(key for key, _ in hold.series)} will be cancelled at the daemon's next plan.",
                  highlight=False)



