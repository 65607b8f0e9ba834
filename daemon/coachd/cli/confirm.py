"""`coachd confirm`: let a held pass of cancellations go ahead, by the id `plan` and `status` show."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from coachd.config import ProgramConfig
from coachd.plan.planner import Hold, plan
from coachd.observe.observer import CONFIRMED_META, observe
from coachd.runtime.wiring import StateUnavailable
from coachd.store.db import Store
from coachd.store.models import Meta
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
            row = db.get(Meta, (cfg.program.id, CONFIRMED_META))
            confirmed = sorted(set(row.value if row else []) | {hold_id})
            if row is None:
                db.add(Meta(program_id=cfg.program.id, name=CONFIRMED_META, value=confirmed))
            else:
                row.value = confirmed
    console.print(f"confirmed {hold.id}: {hold.occurrences} future occurrences of "
                  f"{', '.join(key for key, _ in hold.series)} will be cancelled at the daemon's next plan.",
                  highlight=False)



