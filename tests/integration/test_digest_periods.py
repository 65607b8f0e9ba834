"""Sponsor digests are once per period: a repeated tick or a restart never sends one twice, and a
daemon that was down over a period's end sends that digest once when it is back."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest

from coachd.config import load_config
from coachd.model.periods import digest_periods
from coachd.plan.mail_times import in_working_hours
from coachd.plan.planner import REVIEW_PACK_BEFORE
from coachd.plan.series import availability
from coachd.model.types import SessionKind
from coachd.observe.readonly import read_observed
from tests.support.observed import occurrences
from tests.support.ticks import EXAMPLE, program_start, tick


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


def sent(state, kind: str) -> list[tuple[str, str]]:
    """(To, Subject) of every email of `kind` the file sender wrote, oldest first."""
    found = []
    for path in sorted((state / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["X-Coachd-Kind"] == kind:
            found.append((str(message["To"]), str(message["Subject"])))
    return found


def digests(state) -> list[tuple[str, str]]:
    return sent(state, "digest")


def test_a_digest_missed_while_the_daemon_was_down_goes_out_once_when_it_is_back(tmp_path, cfg):
    start = program_start(cfg)
    (_, first_end), (_, second_end) = digest_periods(cfg)[:2]
    tick(tmp_path, cfg, start - timedelta(days=1))
    tick(tmp_path, cfg, first_end - timedelta(days=2))
    assert digests(tmp_path) == [], "nothing before the first period ends"
    # Down from two days before the period's end until four days after it.
    back = first_end + timedelta(days=4)
    tick(tmp_path, cfg, back)
    first = digests(tmp_path)
    assert len(first) == len(cfg.digest.to), "the missed digest, once to each recipient"
    for later in (back, back + timedelta(minutes=5), back + timedelta(days=3)):
        tick(tmp_path, cfg, later)  # a repeated tick, then restarts
    assert digests(tmp_path) == first, "never twice for one period"
    tick(tmp_path, cfg, second_end + timedelta(hours=20))
    assert len(digests(tmp_path)) == 2 * len(cfg.digest.to), "the next period's digest on its own day"


def test_a_daemon_down_for_more_than_a_whole_period_sends_only_the_latest_missed_digest(tmp_path, cfg):
    start = program_start(cfg)
    second_end = digest_periods(cfg)[1][1]
    tick(tmp_path, cfg, start - timedelta(days=1))
    tick(tmp_path, cfg, second_end + timedelta(days=1))
    sent = digests(tmp_path)
    assert len(sent) == len(cfg.digest.to), "the stale one is skipped; sponsors get the current picture once"


def review_series(observed):
    return next(b.series for b in observed.bookings.values() if b.series.spec.kind is SessionKind.SPONSOR_REVIEW)


def test_the_review_pack_goes_once_to_everyone_in_the_review(tmp_path, cfg):
    start = program_start(cfg)
    tick(tmp_path, cfg, start - timedelta(days=1))
    booked = read_observed(cfg, tmp_path)[0]  # the review as the daemon booked it
    review = min(occurrences(booked, SessionKind.SPONSOR_REVIEW), key=lambda o: o.start)
    # Each reader's pack lands in their own working hours, at or before REVIEW_PACK_BEFORE ahead.
    latest = review.start - REVIEW_PACK_BEFORE
    due = min(in_working_hours(latest, availability(cfg, person.person_id))
              for person in review_series(booked).spec.everyone())
    tick(tmp_path, cfg, due - timedelta(hours=1))
    assert sent(tmp_path, "review") == []
    for now in (due + timedelta(minutes=5), due + timedelta(minutes=10), latest + timedelta(days=1)):
        tick(tmp_path, cfg, now)
    packs = sent(tmp_path, "review")
    assert sorted(to for to, _ in packs) == sorted(
        f"{p.name} <{p.email}>" for p in [cfg.person(s) for s in cfg.sponsors] + cfg.coaches())
    assert len({subject for _, subject in packs}) == 1 and "sponsor review" in packs[0][1]
