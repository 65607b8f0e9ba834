"""Action items across a program: opened in a coach's notes, carried, ticked off as done in later notes.

Coaches write actions under "Actions:" and, in a later session's notes, what got done under "Done:".
A done line rarely repeats the action word for word ("proposal sent" for "send the revised
proposal"), so it is matched to the open action of the same series it resembles most; an action
written again in the next notes is the same action carried forward, not a new one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from difflib import SequenceMatcher
from functools import cached_property

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

    @cached_property
    def words(self) -> tuple[list[str], list[str]]:
        """The action's words with its owner, and without: what done lines are matched against."""
        return _words(f"{self.owner} {self.text}"), _words(self.text)

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


def track(entries: Iterable[NotesEntry]) -> list[ActionItem]:
    """Every action item of the program, with when it was opened and (if so) done."""
    items: list[ActionItem] = []
    # Per series, the items still open, oldest first; notes are read in time order, so every item
    # in them was opened at or before the notes being read.
    open_by_series: dict[str, list[ActionItem]] = {}
    for entry in sorted(entries, key=lambda e: e.received_at):
        still_open = open_by_series.setdefault(entry.series_uid, [])
        for line in entry.done:
            match = _best(still_open, line, _DONE_MATCH)
            if match is not None:
                match.done_at = entry.received_at
                still_open.remove(match)
        for action in entry.actions:
            text = str(action.get("text") or "").strip()
            if not text:
                continue
            owner = str(action.get("owner") or "")
            due = _due(action.get("due"))
            carried = _best(still_open, f"{owner} {text}", _SAME_ACTION)
            if carried is not None:
                carried.due = due or carried.due
                continue
            item = ActionItem(entry.series_uid, owner, text, due, entry.received_at)
            items.append(item)
            still_open.append(item)
    return items


def _best(candidates: list[ActionItem], line: str, threshold: float) -> ActionItem | None:
    words = _words(line)
    if not words:
        return None
    joined, unique = " ".join(words), set(words)
    best, best_score = None, threshold
    for item in candidates:  # oldest first: of equally good matches, the longest-open one
        score = _similarity(joined, unique, item, best_score if best is not None else threshold)
        if score > best_score or (best is None and score >= threshold):
            best, best_score = item, score
    return best


def _similarity(joined: str, unique: set[str], item: ActionItem, to_beat: float) -> float:
    """How much a line reads like an action: the closer of its characters to the action's (with or
    without the owner), or the share of its words the action has ("Done: proposal" for "Ana: send the
    revised proposal"). Exact ratios are only computed where their cheap upper bound could beat `to_beat`."""
    with_owner, text = item.words
    if not text:
        return 0.0
    score = len(unique & set(with_owner)) / len(unique) * 0.9
    for other in (" ".join(with_owner), " ".join(text)):
        matcher = SequenceMatcher(None, joined, other)
        if matcher.real_quick_ratio() > max(score, to_beat) and matcher.quick_ratio() > max(score, to_beat):
            score = max(score, matcher.ratio())
    return score


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
