"""The daemon's jobs with busy times from Outlook getSchedule (the fake), wired as `busy: {provider: outlook}`
builds it, end to end through the store: the sessions coachd booked come back in people's schedules (tentative
until answered) and move nothing; a schedule Graph cannot read keeps that person's last known busy times; a
guest outside the tenant is read from their own feed (issue 18 point 5)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from coachd.config import ProgramConfig, load_config
from coachd.model.types import UTC, Interval
from coachd.observe.observer import observe
from coachd.observe.readonly import existing_store, read_observed
from coachd.providers.local.busy_ics import IcsBusySource
from tests.support.fake_graph.schedule import FakeSchedule, Item
from tests.support.microsoft_auth import MicrosoftSetup, microsoft
from tests.support.ticks import program_start, tick

SECRET_ENV = "COACHD_TEST_BUSY_SECRET"


class Tenant:
    """getSchedule for the example program: everyone but Maria has a mailbox in the tenant, and each
    person's schedule holds the sessions coachd booked for them, as Exchange's invitations put them there."""

    def __init__(self, setup: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fake = setup.fake
        app = setup.app(permissions=("Calendars.Read",))
        monkeypatch.setenv(SECRET_ENV, setup.identity.add_secret(app))
        self.cfg = load_config(setup.config(setup.section(app, f"secret_env: {SECRET_ENV}"), roles=("busy",)))
        self.state = setup.folder / "state"
        with self.fake.lock:
            # A guest from outside: Graph cannot resolve her; her own feed counts.
            self.fake.mailboxes.pop("maria@northwind.example")
        self.schedule = FakeSchedule(self.fake, extra_items=self.sessions_of)

    def sessions_of(self, email: str, start: datetime, end: datetime) -> Iterable[Item]:
        pid = self.cfg.person_id_by_email.get(email)
        with existing_store(self.cfg, self.state) as store:
            if store is None or pid is None:
                return []
            booked = observe(store, self.cfg.program.id).booked()
        return [Item(o.start, o.end, "busy" if pid == series.spec.host.person_id else "tentative")
                for series in booked for o in series.occurrences()
                if not o.cancelled and pid in {a.person_id for a in series.spec.everyone()}
                and o.start < end and o.end > start]


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant]:
    with microsoft(tmp_path) as setup:
        yield Tenant(setup, monkeypatch)


def booked_moves(records) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.key for r in records if r.kind == "book"]


def test_sessions_coachd_booked_come_back_as_busy_and_move_nothing(tenant: Tenant) -> None:
    cfg: ProgramConfig = tenant.cfg
    start = program_start(cfg)
    first, counts = tick(tenant.state, cfg, start + timedelta(days=1))
    assert booked_moves(first) and counts["series"] > 0
    calls = len(tenant.schedule.calls())
    assert calls and all(len(call.schedules) <= 20 and call.end - call.start <= timedelta(days=62)
                         for call in tenant.schedule.calls())
    for day in range(2, 4):
        records, _ = tick(tenant.state, cfg, start + timedelta(days=day))
        assert booked_moves(records) == [], f"day {day}: coachd's own sessions taken as conflicts"
    assert len(tenant.schedule.calls()) > calls, "free/busy was read again on every pass"
    # The sessions really are in what Graph answered: the store holds them as people's busy times,
    # the coachees' tentative ones too.
    observed, _ = read_observed(cfg, tenant.state)
    group = next(b.series for b in observed.bookings.values()
                 if b.series.spec.key.startswith("group:") and b.series.spec.host.person_id != "maria")
    for pid in (group.spec.host.person_id, next(a.person_id for a in group.spec.everyone()
                                                 if a.person_id != group.spec.host.person_id)):
        assert any(span.start <= o.start and o.end <= span.end for o in group.occurrences()[:3]
                   for span in observed.busy[pid]), pid


def test_a_schedule_graph_cannot_read_keeps_the_last_known_busy_times(tenant: Tenant) -> None:
    cfg = tenant.cfg
    start = program_start(cfg)
    block = (datetime(2027, 1, 12, 1, tzinfo=UTC), datetime(2027, 1, 12, 3, tzinfo=UTC))
    tenant.schedule.set_items("kenji@northwind.example", [block])
    tick(tenant.state, cfg, start + timedelta(days=1))
    before, _ = read_observed(cfg, tenant.state)
    assert Interval(*block) in before.busy["kenji"]

    tenant.schedule.set_items("kenji@northwind.example", [])  # what Graph would say, if it could
    tenant.schedule.fail_person("kenji@northwind.example", "ErrorFreeBusyGenerationFailed")
    records, _ = tick(tenant.state, cfg, start + timedelta(days=2))
    after, _ = read_observed(cfg, tenant.state)
    assert after.busy["kenji"] == before.busy["kenji"], "unknown is not free: the last busy times stand"
    assert set(after.busy_errors) == {"kenji"}
    assert "ErrorFreeBusyGenerationFailed" in after.busy_errors["kenji"].error
    assert booked_moves(records) == []

    tenant.schedule.fail_person("kenji@northwind.example", None)
    tick(tenant.state, cfg, start + timedelta(days=3))
    healed, _ = read_observed(cfg, tenant.state)
    assert not healed.busy_errors and Interval(*block) not in healed.busy["kenji"]


def test_a_guest_outside_the_tenant_is_read_from_their_feed_and_not_failed(tenant: Tenant) -> None:
    cfg = tenant.cfg
    tick(tenant.state, cfg, program_start(cfg) + timedelta(days=1))
    observed, _ = read_observed(cfg, tenant.state)
    assert "maria" not in observed.busy_errors
    maria = cfg.person("maria")
    feed = IcsBusySource({"maria": maria.busy}, cfg.base_dir, {"maria": maria.timezone})
    window = Interval(datetime(2027, 1, 11, tzinfo=UTC), datetime(2027, 1, 18, tzinfo=UTC))
    from_feed = feed.busy("maria", window)
    assert from_feed, "the example's feed has Maria busy that week"
    stored = [s for s in observed.busy["maria"] if s.start < window.end and s.end > window.start]
    for span in from_feed:
        assert any(s.start <= span.start and span.end <= s.end for s in stored), span
    asked = {email.lower() for call in tenant.schedule.calls() for email in call.schedules}
    assert "maria@northwind.example" in asked, "Graph was asked, answered that it cannot resolve her"
