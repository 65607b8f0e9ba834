"""`coachd inbox` (quarantined mail: list, assign, dismiss) and `coachd feedback` (every feedback reply).

Nothing is ever deleted: a dismissed reply keeps its row and its raw message, an assigned one
records that an admin assigned it and what the quarantine had said.
"""

from __future__ import annotations

import email.policy
import json
from email.parser import BytesHeaderParser
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from coachd.config import ProgramConfig
from coachd.replies import reading as reply_text
from coachd.model.observed import FEEDBACK_KINDS
from coachd.observe.inbox import read_answer
from coachd.mail.reply_token import EXPECTS_ANSWER
from coachd.observe.observer import STATES_META
from coachd.observe.coachee_states import REASONS_META
from coachd.store import meta_repo, outbox_repo, replies_repo, series_repo
from coachd.store.db import Store
from coachd.observe.readonly import existing_store, state_now


class ReplyCommandError(Exception):
    """A reply, person or session the command cannot use."""


@contextmanager
def _writable_store(cfg: ProgramConfig, state: Path) -> Iterator[Store]:
    """The store, to change a reply in (a database at another schema revision is refused)."""
    with existing_store(cfg, state, readonly=False) as store:
        if store is None:
            raise ReplyCommandError(f"nothing was ever received in {state}")
        yield store


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


def assign(console: Console, cfg: ProgramConfig, state: Path, reply_id: int, person_id: str,
           session_id: str | None, kind: str | None) -> None:
    """Take a quarantined reply as `person`'s answer to their latest request (of `kind`, about `session`)."""
    if person_id not in cfg.people_by_id:
        raise ReplyCommandError(f"--person: no person {person_id!r} in the config; known: "
                                f"{', '.join(sorted(cfg.people_by_id))}")
    if kind is not None and kind not in EXPECTS_ANSWER:
        raise ReplyCommandError(f"--kind: {kind!r} asks for no answer; one of {', '.join(sorted(EXPECTS_ANSWER))}")
    with _writable_store(cfg, state) as store:
        now = state_now(store, cfg.program.id)
        with store.session() as db:
            reply = _quarantined(db, cfg, reply_id)
            request = outbox_repo.latest_request(db, cfg.program.id, person_id,
                                                 [kind] if kind else sorted(EXPECTS_ANSWER), session_id)
            if request is None:
                what = f"a {kind}" if kind else "a request that asks for an answer"
                where = f" about session {session_id}" if session_id else ""
                raise ReplyCommandError(f"coachd sent {person_id} no {what}{where}; nothing to assign reply "
                                        f"{reply_id} to")
            body = reply_text.body_text(reply_text.parse_message(reply.raw))
            payload, rating = read_answer(cfg, request.kind, person_id, body, now)
            replies_repo.assign(reply, kind=request.kind, session_id=request.session_id, person_id=person_id,
                                rating=rating, payload=payload, request_key=request.key,
                                reason=f"assigned by an admin (quarantined because: {reply.reason})")
            described = f"{request.kind} of {request.session_id or 'the program'}"
    console.print(f"Reply {reply_id} recorded as {person_id}'s answer to the {described}"
                  + (f" (rating {rating})" if rating is not None else "") + ".", highlight=False, soft_wrap=True)


def dismiss(console: Console, cfg: ProgramConfig, state: Path, reply_id: int) -> None:
    with _writable_store(cfg, state) as store:
        with store.session() as db:
            reply = _quarantined(db, cfg, reply_id)
            replies_repo.dismiss(reply, f"dismissed by an admin (quarantined because: {reply.reason})")
    console.print(f"Reply {reply_id} dismissed; it stays in the store and in the mailbox.", highlight=False)


def _quarantined(db, cfg: ProgramConfig, reply_id: int):  # type: ignore[no-untyped-def]
    reply = replies_repo.get(db, cfg.program.id, reply_id)
    if reply is None:
        raise ReplyCommandError(f"no reply {reply_id} (`coachd inbox CONFIG` lists the quarantined ones)")
    if reply.status != "quarantined":
        raise ReplyCommandError(f"reply {reply_id} is {reply.status}, not quarantined; nothing to do")
    return reply


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
            "avoid": payload.get("avoid", ""), "after_reminder": kind == "feedback-reminder",
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
