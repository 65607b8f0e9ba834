"""`coachd notes CONFIG SESSION FILE`: a coach's notes for a session, from a file instead of a reply.

They are recorded exactly as a reply to the notes request would be, so the summary (and what the
next agenda lists as open commitments) takes them up the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from rich.console import Console

from coachd.config import ProgramConfig
from coachd.replies import reading as reply_text
from coachd.observe.observer import observe
from coachd.model.mail_kinds import MailKind
from coachd.runtime.wiring import StateUnavailable
from coachd.store import replies_repo
from coachd.observe.readonly import existing_store, state_now

FORMAT_HELP = ("write them as the notes-request email explains: a line 'Conclusions:' followed by one per line, "
               "then 'Actions:' with lines like '- Ana: send the proposal by 2027-02-05'")


class NotesError(Exception):
    """A session or file the command cannot use."""


def record_notes(console: Console, cfg: ProgramConfig, state: Path, session_id: str, file: Path) -> None:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise NotesError(f"{file}: cannot read it: {error}") from error
    notes = reply_text.coach_notes(text)
    if not notes["conclusions"] and not notes["actions"]:
        raise NotesError(f"{file}: no conclusions or actions found; {FORMAT_HELP}")
    with existing_store(cfg, state, readonly=False) as store:
        if store is None:
            raise StateUnavailable(f"nothing is booked in {state}: there is no session to take notes for")
        observed = observe(store, cfg.program.id)
        host = next((b.series.spec.host for b in observed.bookings.values()
                     for o in b.series.occurrences() if o.session_id == session_id), None)
        if host is None:
            raise NotesError(f"no session {session_id!r} in {state} (`coachd status` lists upcoming sessions; "
                             "emails carry it as X-Coachd-Session)")
        message_id = f"<notes-{hashlib.sha256((session_id + text).encode()).hexdigest()[:24]}@coachd.invalid>"
        now = state_now(store, cfg.program.id)
        with store.session() as db:
            exists = replies_repo.is_recorded(db, cfg.program.id, message_id)
            if not exists:
                replies_repo.add(db, cfg.program.id, message_id, now, host.email, kind=MailKind.NOTES_REQUEST,
                                 session_id=session_id, person_id=host.person_id, status="handled",
                                 reason="from `coachd notes`", rating=None, payload={"text": text, **notes},
                                 raw=text.encode())
    verb = "already recorded" if exists else "recorded"
    console.print(f"Notes for {session_id} {verb} as {host.name}'s: {len(notes['conclusions'])} conclusion(s), "
                  f"{len(notes['actions'])} action(s).", highlight=False, soft_wrap=True)
    for action in notes["actions"]:
        due = f" (due {action['due']})" if action["due"] else ""
        console.print(f"  - {action['owner'] or '?'}: {action['text']}{due}", highlight=False, markup=False)
