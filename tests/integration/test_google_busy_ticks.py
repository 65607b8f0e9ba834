"""The daemon's jobs with busy times from Google free/busy (the fake), end to end through the store: the
sessions coachd booked come back in people's free/busy and move nothing; a calendar Google cannot read keeps
that person's last known busy times; a guest outside the Workspace is read from their own feed (issue 17
points 5 and 8)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from coachd.config import ProgramConfig, load_config
from coachd.model.types import UTC, Interval
from coachd.observe.busy import everyone, own_busy
from coachd.observe.observer import observe
from coachd.observe.readonly import existing_store, read_observed
from coachd.providers.busy import CombinedBusy
from coachd.providers.google.busy import FREEBUSY_SCOPE, GoogleBusy
from coachd.providers.local.busy_ics import IcsBusySource
from coachd.providers.retry import RetryPolicy
from coachd.runtime import wiring
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.freebusy import FakeFreeBusy
from tests.support.ticks import EXAMPLE, program_start, tick


class Workspace:
    """The fake's free/busy for the example program: everyone but Maria is in the Workspace, and each
    person's free/busy includes the sessions coachd booked for them, as invitations put them in their calendars."""

    def __init__(self, fake: FakeGoogle, cfg: ProgramConfig, state: Path) -> None:
        self.fake = fake
        self.cfg = cfg
        self.state = state
        self.freebusy = FakeFreeBusy(fake, extra_busy=self.sessions_of)
        for person in cfg.people:
            if person.id != "maria":  # a guest from outside: Google answers notFound, her own feed counts
                self.freebusy.add_person(str(person.email))

    def sessions_of(self, email: str, start: datetime, end: datetime) -> Iterable[tuple[datetime, datetime]]:
        pid = self.cfg.person_id_by_email.get(email)
        with existing_store(self.cfg, self.state) as store:
            if store is None or pid is None:
                return []
            booked = observe(store, self.cfg.program.id).booked()
        return [(o.start, o.end) for series in booked for o in series.occurrences()
                if not o.cancelled and pid in {a.person_id for a in series.spec.everyone()}
                and o.start < end and o.end > start]

    def busy(self, cfg: ProgramConfig, state_dir: Path, *, embedded: bool = False):  # type: ignore[no-untyped-def]
        """wiring.build_busy as it will be once `busy: {provider: google}` is wired: Google for everyone,
        joined by people's own feeds."""
        own, _ = own_busy(cfg)
        token = self.fake.issue_access_token(str(cfg.organizer.email), [FREEBUSY_SCOPE])
        google = GoogleBusy(Credentials(token=token), api_root=self.fake.base_url, timeout=5,
                            policy=RetryPolicy(sleep=lambda _: None))
        return CombinedBusy(google, own), everyone(cfg)


@pytest.fixture
def cfg() -> ProgramConfig:
    return load_config(EXAMPLE)


@pytest.fixture
def workspace(cfg: ProgramConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    with FakeGoogle() as fake:
        google = Workspace(fake, cfg, tmp_path / "state")
        monkeypatch.setattr(wiring, "build_busy", google.busy)
        yield google


def booked_moves(records) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.key for r in records if r.kind == "book"]


def test_sessions_coachd_booked_come_back_as_busy_and_move_nothing(cfg, workspace, tmp_path) -> None:
    state = tmp_path / "state"
    start = program_start(cfg)
    first, counts = tick(state, cfg, start + timedelta(days=1))
    assert booked_moves(first) and counts["series"] > 0
    calls = len(workspace.fake.requests("/freeBusy"))
    for day in range(2, 5):
        records, _ = tick(state, cfg, start + timedelta(days=day))
        assert booked_moves(records) == [], f"day {day}: coachd's own sessions taken as conflicts"
    assert len(workspace.fake.requests("/freeBusy")) > calls, "free/busy was read again on every pass"
    # The sessions really are in what Google answered: the store holds them as the coach's busy times.
    observed, _ = read_observed(cfg, state)
    group = next(b.series for b in observed.bookings.values()
                 if b.series.spec.key.startswith("group:") and b.series.spec.host.person_id != "maria")
    coach = group.spec.host.person_id
    assert any(span.start <= o.start and o.end <= span.end for o in group.occurrences()[:3]
               for span in observed.busy[coach])


def test_a_calendar_google_cannot_read_keeps_the_last_known_busy_times(cfg, workspace, tmp_path) -> None:
    state = tmp_path / "state"
    start = program_start(cfg)
    block = (datetime(2027, 1, 12, 1, tzinfo=UTC), datetime(2027, 1, 12, 3, tzinfo=UTC))
    workspace.freebusy.set_busy("kenji@northwind.example", [block])
    tick(state, cfg, start + timedelta(days=1))
    before, _ = read_observed(cfg, state)
    assert Interval(*block) in before.busy["kenji"]

    workspace.freebusy.set_busy("kenji@northwind.example", [])  # what Google would say, if it could
    workspace.freebusy.fail_calendar("kenji@northwind.example", "internalError")
    records, _ = tick(state, cfg, start + timedelta(days=2))
    after, _ = read_observed(cfg, state)
    assert after.busy["kenji"] == before.busy["kenji"], "unknown is not free: the last busy times stand"
    assert set(after.busy_errors) == {"kenji"} and "internalError" in after.busy_errors["kenji"].error
    assert "kenji" not in after.busy_unknown, "read before: planned on the last times, not waited for"
    assert booked_moves(records) == []

    workspace.freebusy.fail_calendar("kenji@northwind.example", None)
    tick(state, cfg, start + timedelta(days=3))
    healed, _ = read_observed(cfg, state)
    assert not healed.busy_errors and Interval(*block) not in healed.busy["kenji"]


def test_a_guest_outside_the_workspace_is_read_from_their_feed_and_not_failed(cfg, workspace, tmp_path) -> None:
    state = tmp_path / "state"
    now = program_start(cfg) + timedelta(days=1)
    tick(state, cfg, now)
    observed, _ = read_observed(cfg, state)
    assert "maria" not in observed.busy_errors
    maria = cfg.person("maria")
    feed = IcsBusySource({"maria": maria.busy}, cfg.base_dir, {"maria": maria.timezone})
    window = Interval(datetime(2027, 1, 11, tzinfo=UTC), datetime(2027, 1, 18, tzinfo=UTC))
    from_feed = feed.busy("maria", window)
    assert from_feed, "the example's feed has Maria busy that week"
    stored = [s for s in observed.busy["maria"] if s.start < window.end and s.end > window.start]
    for span in from_feed:
        assert any(s.start <= span.start and span.end <= s.end for s in stored), span
    assert workspace.freebusy._known("kenji@northwind.example")
    assert not workspace.freebusy._known("maria@northwind.example")
