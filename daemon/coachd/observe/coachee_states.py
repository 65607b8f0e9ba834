"""Coachee states from replies, kept where the planner reads them: the check-in cadence follows them."""

from __future__ import annotations

from datetime import datetime

from coachd.plan.coachee_states import WINDOW, derive_states
from coachd.model.observed import latest_answers
from coachd.execute.executor import ActionRecord, Executor
from coachd.observe.observer import STATES_META
from coachd.runtime.wiring import ProgramRuntime
from coachd.store import replies_repo

# Why each coachee is in their state, for `coachd feedback` (the planner reads STATES_META only).
REASONS_META = "coachee_state_reasons"


def refresh_states(program: ProgramRuntime, executor: Executor, now: datetime) -> bool:
    """Judge every coachee from their replies; store and log the states that changed.

    A coachee with no evidence in the window keeps the state they had (set earlier, or by hand);
    returns whether anything changed, which is the planner's cue to book or end check-ins.
    """
    coachees = [p.id for p in program.cfg.coachees()]
    with program.store.session() as db:
        # Only the window is judged: older replies need not be read on every inbox run.
        replies = replies_repo.handled(db, program.id, coachees, since=now - WINDOW)
    judged = derive_states(latest_answers(replies), coachees, now)
    states = dict(program.get_meta(STATES_META) or {})  # type: ignore[call-overload]
    before = dict(program.get_meta(REASONS_META) or {})  # type: ignore[call-overload]
    reasons = dict(before)
    changed = [person for person, judgement in judged.items() if states.get(person) != judgement.state]
    for person, judgement in judged.items():
        states[person] = judgement.state
        reasons[person] = list(judgement.reasons)
    if changed:
        program.set_meta(STATES_META, states)
        for person in sorted(changed):
            executor.emit(ActionRecord(now, f"state:{program.id}/{person}/{now.isoformat()}", "state", {
                "person": person, "state": states[person], "because": "; ".join(reasons[person])}))
    if reasons != before:
        program.set_meta(REASONS_META, reasons)
    return bool(changed)
