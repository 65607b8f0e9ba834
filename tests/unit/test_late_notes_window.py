"""The planner's side of late notes (issue 15, point 5): who gets the updated summary, and until when."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.model.actions import BookSeries, QueueMail
from coachd.model.mail_kinds import MailKind
from coachd.model.observed import Booking, Observed, ReplyFact
from coachd.model.types import UTC
from coachd.plan.planner import first_summary_key, plan

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
NOTES = {"conclusions": ["Lead with value"], "actions": [{"owner": "ana", "text": "send the proposal", "due": None}]}


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


@pytest.fixture(scope="module")
def setting(cfg):
    start = datetime.combine(cfg.program.starts, time(0), cfg.program.zone).astimezone(UTC)
    booked = [a.series for a in plan(cfg, Observed(), start, session_mail=False, program_mail=False).actions
              if isinstance(a, BookSeries)]
    group = next(s for s in booked if s.spec.key == "group:americas")
    first, second = group.occurrences()[:2]
    return start, booked, group, first, second


def summaries(cfg, setting, received: datetime, *, got_first: tuple[str, ...] | None = None,
              payload=NOTES) -> list[QueueMail]:
    start, booked, group, first, _ = setting
    people = [a.person_id for a in group.spec.everyone()] if got_first is None else list(got_first)
    queued = frozenset(QueueMail(cfg.program.id, MailKind.SUMMARY, a, first.session_id, first.end,
                                 occurrence=first).key for a in group.spec.everyone() if a.person_id in people)
    notes = ReplyFact(MailKind.NOTES_REQUEST, first.session_id, group.spec.host.person_id, received, payload=payload)
    observed = Observed(bookings={s.spec.key: Booking(s, start) for s in booked}, queued=queued, replies=(notes,))
    return [a for a in plan(cfg, observed, received + timedelta(minutes=1), booking=False, program_mail=False).actions
            if isinstance(a, QueueMail) and first_summary_key(a) is not None]


def test_notes_after_the_summary_went_out_update_whoever_got_it(cfg, setting):
    _, _, group, first, _ = setting
    got = tuple(a.person_id for a in group.spec.everyone())[:2]
    updates = summaries(cfg, setting, first.end + timedelta(days=2), got_first=got)
    assert sorted(u.recipient.person_id for u in updates) == sorted(got)
    assert all(u.kind == MailKind.SUMMARY and u.session_id == first.session_id for u in updates)


def test_notes_before_summary_after_update_nothing(cfg, setting):
    _, _, _, first, _ = setting
    assert summaries(cfg, setting, first.end + cfg.mail.summary.after - timedelta(minutes=5)) == []


def test_notes_with_nothing_the_summary_lacked_update_nothing(cfg, setting):
    _, _, _, first, _ = setting
    assert summaries(cfg, setting, first.end + timedelta(days=2), payload={"conclusions": [], "actions": []}) == []


def test_notes_a_week_after_the_next_session_are_no_longer_news(cfg, setting):
    _, _, _, _, second = setting
    assert summaries(cfg, setting, second.start + timedelta(days=6))
    assert summaries(cfg, setting, second.start + timedelta(days=7, hours=1)) == []
