"""Settle a quarantined reply (`coachd inbox --assign`, `--dismiss`); the listings are in reporting.replies_view.

Nothing is ever deleted: a dismissed reply keeps its row and its raw message, an assigned one
records that an admin assigned it and what the quarantine had said.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from coachd.config import ProgramConfig
from coachd.replies import reading as reply_text
from coachd.observe.inbox import read_answer
from coachd.model.mail_kinds import EXPECTS_ANSWER, expects_answer, is_final_report
from coachd.store.db import Store
from coachd.store import outbox_repo, replies_repo
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
            if not expects_answer(request.kind, request.session_id):
                raise ReplyCommandError(_asks_nothing(person_id, reply_id, request.kind, request.session_id))
            body = reply_text.body_text(reply_text.parse_message(reply.raw))
            payload, rating = read_answer(cfg, request.kind, person_id, body, now)
            replies_repo.assign(reply, kind=request.kind, session_id=request.session_id, person_id=person_id,
                                rating=rating, payload=payload, request_key=request.key,
                                reason=f"assigned by an admin (quarantined because: {reply.reason})")
            described = f"{request.kind} of {request.session_id or 'the program'}"
    console.print(f"Reply {reply_id} recorded as {person_id}'s answer to the {described}"
                  + (f" (rating {rating})" if rating is not None else "") + ".", highlight=False, soft_wrap=True)


def _asks_nothing(person_id: str, reply_id: int, kind: str, session_id: str | None) -> str:
    """Why a reply cannot be the answer to the request found: that request asks for none."""
    what = (f"the sponsors' final report ({kind} about the whole program)" if is_final_report(kind, session_id)
            else f"a {kind}" + (f" about session {session_id}" if session_id else ""))
    return (f"the latest request coachd sent {person_id} is {what}, which asks for no answer; reply {reply_id} "
            "stays quarantined (name the request it answers with --session and --kind, or --dismiss it)")


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
