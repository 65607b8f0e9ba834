"""What `coachd inbox` and `coachd feedback` show: the quarantined replies, and every feedback reply.

Read only: the writing commands (assign, dismiss) are coachd.cli.replies.
"""

from __future__ import annotations

import email.policy
import json
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from coachd.config import ProgramConfig
from coachd.model.mail_kinds import FEEDBACK_KINDS, MailKind
from coachd.observe.observer import STATES_META
from coachd.observe.coachee_states import REASONS_META
from coachd.store import meta_repo, replies_repo, series_repo
from coachd.observe.readonly import existing_store


def quarantined(cfg: ProgramConfig, state: Path) -> list[dict[str, Any]]:
    with existing_store(cfg, state) as store:
        if store is None:
            return []
        with store.session() as db:
            rows = replies_repo.quarantined(db, cfg.program.id)
            return [{"id": r.id, "received": r.received_at.isoformat(), "from": r.from_addr,
                     "subject": _subject(r.raw), "reason": r.reason, "kind": r.kind, "person": r.person_id,
                     "session": r.session_id} for r in rows]


def _subject(raw: bytes) -> str:
    try:
        # The headers are all a listing needs: the body (attachments and all) is never parsed here.
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
        return " ".join(str(headers.get("Subject", "")).split())[:200]
    except Exception:  # a header too broken to decode is shown as missing
        return ""


def show_inbox(console: Console, cfg: ProgramConfig, state: Path, as_json: bool) -> None:
    rows = quarantined(cfg, state)
    if as_json:
        console.print_json(json.dumps({"program": cfg.program.id, "quarantined": rows}))
        return
    if not rows:
        console.print("No quarantined replies.", highlight=False)
        return
    table = Table(title=f"Quarantined replies ({len(rows)})")
    for column in ("id", "received", "from", "subject", "reason"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["id"]), row["received"][:16], row["from"], row["subject"], row["reason"] or "")
    console.print(table)
    console.print("Assign one: coachd inbox CONFIG --assign ID --person PERSON [--session SESSION] [--kind KIND]; "
                  "dismiss one: coachd inbox CONFIG --dismiss ID", highlight=False, soft_wrap=True)


def feedback(cfg: ProgramConfig, state: Path) -> list[dict[str, Any]]:
    with existing_store(cfg, state) as store:
        if store is None:
            return []
        pid = cfg.program.id
        with store.session() as db:
            states = meta_repo.get(db, pid, STATES_META) or {}
            reasons = meta_repo.get(db, pid, REASONS_META) or {}
            titles = series_repo.titles(db, pid)
            rows = replies_repo.answers_of_kinds(db, pid, FEEDBACK_KINDS)
    result = []
    for session_id, person_id, rating, payload, received_at, kind in rows:
        payload = payload or {}
        person = cfg.people_by_id.get(person_id or "")
        result.append({
            "session": session_id, "title": titles.get((session_id or "").split("/")[0], ""),
            "person": person_id, "name": person.name if person else person_id, "rating": rating,
            "answers": payload.get("answers", {}), "repeat": payload.get("repeat", ""),
            "avoid": payload.get("avoid", ""), "after_reminder": kind == MailKind.FEEDBACK_REMINDER,
            "state": states.get(person_id), "state_because": reasons.get(person_id, []),
            "received": received_at.isoformat()})
    return result


def show_feedback(console: Console, cfg: ProgramConfig, state: Path, as_json: bool) -> None:
    rows = feedback(cfg, state)
    if as_json:
        console.print_json(json.dumps({"program": cfg.program.id, "feedback": rows}))
        return
    if not rows:
        console.print("No feedback replies yet.", highlight=False)
        return
    table = Table(title=f"Feedback replies ({len(rows)})")
    for column in ("received", "session", "person", "rating", "answers", "repeat / avoid", "state now"):
        table.add_column(column, overflow="fold")
    for row in rows:
        answers = "\n".join(f"{n}. {a}" for n, a in sorted(row["answers"].items()))
        debrief = "\n".join(part for part in (f"+ {row['repeat']}" if row["repeat"] else "",
                                              f"- {row['avoid']}" if row["avoid"] else "") if part)
        table.add_row(row["received"][:16], f"{row['title']}\n{row['session']}", row["name"],
                      "" if row["rating"] is None else str(row["rating"]), answers, debrief, row["state"] or "")
    console.print(table)
