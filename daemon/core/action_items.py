"""Action items across a program: opened in a coach's notes, carried, ticked off as done in later notes.

Coaches write actions under "Actions:" and, in a later session's notes, what got done under "Done:".
A done line rarely repeats the action word for word ("proposal sent" for "send the revised
proposal"), so it is matched to the open action of the same series it resembles most; an action
written again in the next notes is the same action carried forward, not a new one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from difflib import SequenceMatcher

# Below this similarity a done line is not taken as any open action (it is still counted nowhere).
_DONE_MATCH = 0.5
# At or above this, an action written again in later notes is the one already open.
_SAME_ACTION = 0.8
_WORD = re.compile(r"[^\W_]+")


@dataclass
class ActionItem:
    series_uid: str
    owner: str
    text: str
    due: date | None
    opened_at: datetime
    done_at: datetime | None = None

    def open_at(self, instant: datetime) -> bool:
        return self.opened_at < instant and (self.done_at is None or self.done_at >= instant)

    def overdue_at(self, instant: datetime, day: date) -> bool:
        """Open at `instant` with a due date before `day` (the local date of that instant)."""
        return self.open_at(instant) and self.due is not None and self.due < day


@dataclass(frozen=True)
class NotesEntry:
    """One coach's notes for one session, as the reply parser stored them."""

    series_uid: str
    received_at: datetime
    actions: Sequence[dict[str, object]] = ()
    done: Sequence[str] = ()


@dataclass
class _Ledger:
    items: list[ActionItem] = field(default_factory=list)

    def open_in(self, series_uid: str, at: datetime) -> list[ActionItem]:
        return [i for i in self.items if i.series_uid == series_uid and i.done_at is None and i.opened_at <= at]


def track(entries: Iterable[NotesEntry]) -> list[ActionItem]:
    """Every action item of the program, with when it was opened and (if so) done."""
    ledger = _Ledger()
    for entry in sorted(entries, key=lambda e: e.received_at):
        for line in entry.done:
            match = _best(ledger.open_in(entry.series_uid, entry.received_at), line, _DONE_MATCH)
            if match is not None:
                match.done_at = entry.received_at
        for action in entry.actions:
            text = str(action.get("text") or "").strip()
            if not text:
                continue
            owner = str(action.get("owner") or "")
            due = _due(action.get("due"))
            carried = _best(ledger.open_in(entry.series_uid, entry.received_at), f"{owner} {text}", _SAME_ACTION)
            if carried is not None:
                carried.due = due or carried.due
                continue
            ledger.items.append(ActionItem(entry.series_uid, owner, text, due, entry.received_at))
    return ledger.items


def _best(candidates: list[ActionItem], line: str, threshold: float) -> ActionItem | None:
    words = _words(line)
    best, best_score = None, threshold
    for item in candidates:  # oldest first: of equally good matches, the longest-open one
        score = _similarity(words, _words(f"{item.owner} {item.text}"), _words(item.text))
        if score > best_score or (best is None and score >= threshold):
            best, best_score = item, score
    return best


def _similarity(line: list[str], with_owner: list[str], text: list[str]) -> float:
    if not line or not text:
        return 0.0
    joined = " ".join(line)
    ratio = max(SequenceMatcher(None, joined, " ".join(with_owner)).ratio(),
                SequenceMatcher(None, joined, " ".join(text)).ratio())
    # "Done: proposal" for "Ana: send the revised proposal": most of the line's words are in the action.
    shared = len(set(line) & set(with_owner)) / len(set(line))
    return max(ratio, shared * 0.9)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if len(w) > 2 or w.isdigit()]


def _due(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
