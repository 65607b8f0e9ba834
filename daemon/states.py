"""Coachee states from replies, kept where the planner reads them: the check-in cadence follows them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from daemon.core.coachee_state import derive_states
from daemon.core.observed import ReplyFact, latest_answers
from daemon.executor import ActionRecord, Executor
from daemon.observe import STATES_META
from daemon.program import Program
from daemon.store.models import Reply

# Why each coachee is in their state, for `coachd feedback` (the planner reads STATES_META only).
REASONS_META = "coachee_state_reasons"


def refresh_states(program: Program, executor: Executor, now: datetime) -> bool:
    """Judge every coachee from their replies; store and log the states that changed.

    A coachee with no evidence in the window keeps the state they had (set earlier, or by hand);
    returns whether anything changed, which is the planner's cue to book or end check-ins.
    """
    coachees = [p.id for p in program.cfg.coachees()]
    with program.store.session() as db:
        replies = [ReplyFact(kind or "", session_id, person_id or "", received_at, rating, payload or {})
                   for kind, session_id, person_id, received_at, rating, payload in db.execute(
                       select(Reply.kind, Reply.session_id, Reply.person_id, Reply.received_at, Reply.rating,
                              Reply.payload)
                       .where(Reply.program_id == program.id, Reply.status == "handled",
                              Reply.person_id.in_(coachees)))]
    judged = derive_states(latest_answers(replies), coachees, now)
    states = dict(program.get_meta(STATES_META) or {})  # type: ignore[call-overload]
    reasons = dict(program.get_meta(REASONS_META) or {})  # type: ignore[call-overload]
    changed = [person for person, judgement in judged.items() if states.get(person) != judgement.state]
    for person, judgement in judged.items():
        states[person] = judgement.state
        reasons[person] = list(judgement.reasons)
    if changed:
        program.set_meta(STATES_META, states)
        for person in sorted(changed):
            executor.emit(ActionRecord(now, f"state:{program.id}/{person}/{now.isoformat()}", "state", {
                "person": person, "state": states[person], "because": "; ".join(reasons[person])}))
    if reasons != (program.get_meta(REASONS_META) or {}):
        program.set_meta(REASONS_META, reasons)
    return bool(changed)
