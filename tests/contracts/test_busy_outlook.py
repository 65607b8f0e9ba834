"""Outlook free/busy (OutlookBusy against the fake's getSchedule, real msal and requests) runs the busy contract;
Graph specifics beside it: chunking to 20 people and 62 days, statuses, per-schedule errors, faults, the least
permission, people outside the tenant, and the fake's own limits (issue 18 points 5 and 8)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.model.types import UTC, Interval
from coachd.providers.base import BusyPerson, BusySourceError, CredentialsExpired, Throttled
from coachd.providers.busy import CombinedBusy, EachPersonBusy, ask_within_limits
from coachd.providers.local.busy_ics import IcsBusySource
from coachd.providers.microsoft.auth import graph_credentials
from coachd.providers.microsoft.busy import MAX_SCHEDULES, MAX_WINDOW, OutlookBusy, outlook_busy
from coachd.providers.microsoft.client import GraphApiError, GraphClient
from coachd.providers.microsoft.family import OutlookBusySection
from coachd.providers.retry import RetryPolicy
from tests.contracts.busy_suite import UNREADABLE, WEEK, BusyContract, Calendar, MakeSource, utc
from tests.contracts.test_busy_google import expand
from tests.support.fake_graph.identity import App
from tests.support.fake_graph.schedule import FakeSchedule, Item
from tests.support.microsoft_auth import ORGANIZER, MicrosoftSetup, microsoft

SECRET_ENV = "COACHD_TEST_BUSY_SECRET"


class Tenant:
    """The fake Graph with getSchedule, an app allowed Calendars.Read only (the busy role's least
    permission), and OutlookBusy providers asking through the real client with a recorded retry policy."""

    def __init__(self, setup: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch) -> None:
        self.setup = setup
        self.fake = setup.fake
        self.schedule = FakeSchedule(setup.fake)
        self.sleeps: list[float] = []
        self.now = datetime(2027, 1, 4, 12, tzinfo=UTC)
        self.monkeypatch = monkeypatch
        self.app = self.new_app(("Calendars.Read",))

    def new_app(self, permissions: tuple[str, ...]) -> App:
        app = self.setup.app(permissions=permissions)
        self.monkeypatch.setenv(SECRET_ENV, self.setup.identity.add_secret(app))
        return app

    def section(self, app: App | None = None) -> OutlookBusySection:
        options = self.setup.section(app or self.app, f"secret_env: {SECRET_ENV}")
        path = self.setup.config(options, roles=("busy",), name=f"busy-{id(app)}.yaml")
        section = load_config(path).organizer.busy
        assert isinstance(section, OutlookBusySection)
        return section

    def client(self, app: App | None = None) -> GraphClient:
        section = self.section(app)
        credentials = graph_credentials(section, None, organizer_email=ORGANIZER, role="busy")
        policy = RetryPolicy(sleep=self.sleeps.append, jitter=0)
        return GraphClient(credentials, self.fake.base_url, ORGANIZER, timeout=2, policy=policy)

    def provider(self, app: App | None = None) -> OutlookBusy:
        return OutlookBusy(self.client(app), clock=lambda: self.now)

    def calls(self) -> int:
        return len(self.fake.requests("/calendar/getSchedule", "POST"))


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant]:
    with microsoft(tmp_path) as setup:
        yield Tenant(setup, monkeypatch)


def person(pid: str) -> BusyPerson:
    return BusyPerson(pid, f"{pid}@people.example")


class TestOutlookFreeBusy(BusyContract):
    max_window = MAX_WINDOW
    max_batch = MAX_SCHEDULES

    @pytest.fixture
    def make_source(self, tenant: Tenant) -> MakeSource:
        def make(calendars: Mapping[str, Calendar]) -> OutlookBusy:
            for pid, calendar in calendars.items():
                email = f"{pid}@people.example"
                if calendar is UNREADABLE:
                    tenant.schedule.add_person(email)
                    tenant.schedule.fail_person(email)
                else:
                    tenant.schedule.set_items(email, expand(calendar))
            return tenant.provider()

        return make


# --- chunking, counted in the fake's log ----------------------------------------------------------------


def test_45_people_are_asked_in_3_calls_of_at_most_20(tenant: Tenant) -> None:
    people = [person(f"p{n:02}") for n in range(45)]
    for n, who in enumerate(people):
        tenant.schedule.set_items(who.email, [(utc(5, n % 24), utc(5, n % 24, 30))])
    got = ask_within_limits(tenant.provider(), people, WEEK)
    assert [len(call.schedules) for call in tenant.schedule.calls()] == [20, 20, 5]
    assert not got.failures and len(got) == 45
    assert got["p44"] == [Interval(utc(5, 44 % 24), utc(5, 44 % 24, 30))]


def test_150_days_are_asked_in_3_windows_and_a_block_across_a_seam_comes_back_whole(tenant: Tenant) -> None:
    window = Interval(utc(1, 0), utc(1, 0) + timedelta(days=150))
    seam = window.start + MAX_WINDOW  # where the first call ends and the second begins
    tenant.schedule.set_items("maria@people.example", [(seam - timedelta(hours=1), seam + timedelta(hours=1))])
    got = ask_within_limits(tenant.provider(), [person("maria")], window)
    windows = [(call.start, call.end) for call in tenant.schedule.calls()]
    assert [end - start for start, end in windows] == [timedelta(days=62), timedelta(days=62), timedelta(days=26)]
    assert windows[0][0] == window.start and windows[-1][1] == window.end
    assert got == {"maria": [Interval(seam - timedelta(hours=1), seam + timedelta(hours=1))]}


def test_one_call_asks_each_address_once_and_answers_every_person(tenant: Tenant) -> None:
    tenant.schedule.set_items("shared@people.example", [(utc(5, 9), utc(5, 10))])
    both = [BusyPerson("a", "shared@people.example"), BusyPerson("b", "Shared@People.example")]
    got = tenant.provider().busy(both, WEEK)
    assert got == {"a": [Interval(utc(5, 9), utc(5, 10))], "b": [Interval(utc(5, 9), utc(5, 10))]}
    [call] = tenant.schedule.calls()
    assert call.schedules == ("shared@people.example",)
    assert call.mailbox == ORGANIZER, "asked of the organizer's calendar"


# --- statuses -----------------------------------------------------------------------------------------


def test_busy_away_and_tentative_count_free_and_working_elsewhere_do_not(tenant: Tenant) -> None:
    tenant.schedule.set_items("maria@people.example", [
        Item(utc(5, 9), utc(5, 10), "busy"), Item(utc(5, 11), utc(5, 12), "oof"),
        Item(utc(5, 13), utc(5, 14), "tentative"), Item(utc(5, 15), utc(5, 16), "free"),
        Item(utc(5, 17), utc(5, 18), "workingElsewhere"), Item(utc(5, 19), utc(5, 20), "unknown")])
    got = tenant.provider().busy([person("maria")], WEEK)
    assert got == {"maria": [Interval(utc(5, 9), utc(5, 10)), Interval(utc(5, 11), utc(5, 12)),
                             Interval(utc(5, 13), utc(5, 14)), Interval(utc(5, 19), utc(5, 20))]}


def test_items_in_a_windows_zone_are_read_in_utc(tenant: Tenant) -> None:
    # Another client's Prefer (or Graph ignoring ours) gives Windows zone names: read by their own zone.
    provider = tenant.provider()
    item = {"status": "busy", "start": {"dateTime": "2027-01-05T09:00:00.0000000", "timeZone": "Tokyo Standard Time"},
            "end": {"dateTime": "2027-01-05T10:00:00.0000000", "timeZone": "Tokyo Standard Time"}}
    read = provider._read([person("kenji")], WEEK, [{"scheduleId": "kenji@people.example", "scheduleItems": [item]}])
    assert read == {"kenji": [Interval(utc(5, 0), utc(5, 1))]}


def test_the_request_sends_utc_wall_times_and_one_prefer_header(tenant: Tenant) -> None:
    tenant.provider().busy([person("maria")], WEEK)
    [logged] = tenant.fake.requests("/calendar/getSchedule")
    assert logged.headers["prefer"] == 'outlook.timezone="UTC"'
    [call] = tenant.schedule.calls()
    assert (call.start, call.end) == (WEEK.start, WEEK.end)


# --- per-schedule errors and faults ---------------------------------------------------------------------


def test_one_persons_error_fails_only_that_person(tenant: Tenant) -> None:
    people = [person(f"p{n}") for n in range(30)]
    for who in people:
        tenant.schedule.set_items(who.email, [(utc(5, 9), utc(5, 10))])
    tenant.schedule.fail_person("p25@people.example", "ErrorNoFreeBusyAccess", "No free/busy access.")
    got = ask_within_limits(tenant.provider(), people, WEEK)
    assert set(got.failures) == {"p25"} and len(got) == 29
    failure = got.failures["p25"]
    assert isinstance(failure, BusySourceError) and "ErrorNoFreeBusyAccess" in str(failure)
    assert failure.source == "Outlook free/busy of p25@people.example"


@pytest.mark.parametrize("faults", [("429",), ("503",), ("504",), ("500", "429"), ("drop",), ("lost",)])
def test_throttling_server_errors_and_lost_connections_are_retried(tenant: Tenant, faults: tuple[str, ...]) -> None:
    tenant.schedule.set_items("maria@people.example", [(utc(5, 9), utc(5, 10))])
    tenant.fake.faults.retry_after_seconds = 7
    for kind in faults:
        tenant.fake.faults.fail_next(kind, path_contains="/getSchedule")
    got = tenant.provider().busy([person("maria")], WEEK)
    assert got == {"maria": [Interval(utc(5, 9), utc(5, 10))]} and not got.failures
    logged = tenant.fake.requests("/getSchedule")
    assert [e.fault for e in logged][:len(faults)] == list(faults) and logged[-1].status == 200
    for kind, slept in zip(faults, tenant.sleeps):
        if kind in ("429", "503", "504"):
            assert slept >= 7, "Retry-After honoured"


def test_a_fault_that_outlasts_the_retries_fails_everyone_of_that_call_only(tenant: Tenant) -> None:
    people = [person(f"p{n}") for n in range(30)]
    for who in people:
        tenant.schedule.set_items(who.email, [(utc(5, 9), utc(5, 10))])
    tenant.fake.faults.fail_next("500", times=4, path_contains="/getSchedule")  # the first call's every attempt
    got = ask_within_limits(tenant.provider(), people, WEEK)
    assert set(got.failures) == {f"p{n}" for n in range(20)} and set(got) == {f"p{n}" for n in range(20, 30)}


def test_a_503_that_outlasts_the_retries_holds_the_rest_of_the_pass_for_its_retry_after(tenant: Tenant) -> None:
    people = [person(f"p{n}") for n in range(30)]
    tenant.fake.faults.fail_next("503", times=4, path_contains="/getSchedule")
    provider = tenant.provider()
    got = ask_within_limits(provider, people, WEEK)
    assert set(got.failures) == {f"p{n}" for n in range(30)} and tenant.calls() == 4
    assert all(isinstance(got.failures[f"p{n}"], Throttled) for n in range(20, 30)), "not asked: Graph said wait"
    tenant.now += timedelta(seconds=2)
    assert not ask_within_limits(provider, people, WEEK).failures


def test_throttling_that_outlasts_the_retries_stops_asking_until_retry_after(tenant: Tenant) -> None:
    tenant.schedule.set_items("maria@people.example", [(utc(5, 9), utc(5, 10))])
    tenant.fake.faults.retry_after_seconds = 600
    provider = tenant.provider()
    tenant.fake.faults.fail_next("429", times=10, path_contains="/getSchedule")
    for _ in range(3):
        got = ask_within_limits(provider, [person("maria")], WEEK)
        assert isinstance(got.failures["maria"], Throttled)
    # A Retry-After longer than the retry policy's whole budget is not slept on: one attempt, then no call
    # at all while Graph's wait lasts.
    assert tenant.calls() == 1
    tenant.fake.faults.scripted.clear()
    tenant.now += timedelta(minutes=11)
    assert provider.busy([person("maria")], WEEK) == {"maria": [Interval(utc(5, 9), utc(5, 10))]}


def test_revoked_tokens_are_credentials_expired_not_a_failure_of_people(tenant: Tenant) -> None:
    provider = tenant.provider()
    tenant.fake.revoke_access_tokens()
    app = tenant.app
    with tenant.fake.lock:
        app.secrets.clear()  # the admin deleted the secret: no new token either
    with pytest.raises(CredentialsExpired):
        ask_within_limits(provider, [person("maria")], WEEK)
    # Joined with people's own feeds as the daemon asks it: still raised, for the role's health to record.
    with pytest.raises(CredentialsExpired):
        CombinedBusy(provider, EachPersonBusy(IcsBusySource({}, Path(".")))).busy([person("maria")], WEEK)


def test_calendars_read_is_enough_and_mail_permissions_are_not(tenant: Tenant) -> None:
    tenant.schedule.set_items("maria@people.example", [(utc(5, 9), utc(5, 10))])
    assert tenant.provider().busy([person("maria")], WEEK) == {"maria": [Interval(utc(5, 9), utc(5, 10))]}
    mail_only = tenant.new_app(("Mail.Send",))
    got = ask_within_limits(tenant.provider(mail_only), [person("maria")], WEEK)
    assert isinstance(got.failures["maria"], GraphApiError) and got.failures["maria"].status == 403


# --- people outside the tenant --------------------------------------------------------------------------


def test_someone_outside_the_tenant_is_free_and_said_once(tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    provider = tenant.provider()
    with caplog.at_level(logging.WARNING, "coachd.microsoft"):
        for _ in range(2):
            got = provider.busy([person("guest")], WEEK)
            assert got == {"guest": []} and not got.failures
    assert provider.not_found == {"guest@people.example"}
    said = [r.getMessage() for r in caplog.records if "guest@people.example" in r.getMessage()]
    assert len(said) == 1 and "outside the tenant" in said[0]


def test_outside_the_tenant_with_a_feed_reads_the_feed_and_is_not_failed(tenant: Tenant, tmp_path: Path) -> None:
    # Dana's mailbox is in the tenant (the identity platform's user); Maria is a guest with her own ICS file.
    tenant.schedule.set_items("dana@northwind.example", [(utc(5, 9), utc(5, 10))])
    (tmp_path / "maria.ics").write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:m@test\r\n"
        b"DTSTAMP:20260101T000000Z\r\nDTSTART:20270106T140000Z\r\nDTEND:20270106T150000Z\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n")
    own = EachPersonBusy(IcsBusySource({"maria": "maria.ics"}, tmp_path))
    combined = CombinedBusy(tenant.provider(), own)
    got = combined.busy([BusyPerson("dana", "dana@northwind.example"), BusyPerson("maria", "maria@guest.example")],
                        WEEK)
    assert not got.failures
    assert got == {"dana": [Interval(utc(5, 9), utc(5, 10))], "maria": [Interval(utc(6, 14), utc(6, 15))]}
    assert tenant.calls() == 1, "Graph was asked about both in one call"


def test_a_tenant_mailbox_without_items_is_free_and_known(tenant: Tenant) -> None:
    # Ben is a user of the tenant (identity platform), never given items: readable and free.
    provider = tenant.provider()
    assert provider.busy([BusyPerson("ben", "ben@northwind.example")], WEEK) == {"ben": []}
    assert provider.not_found == set()


def test_the_factory_builds_from_the_section_and_connects_to_nothing(tenant: Tenant, tmp_path: Path) -> None:
    provider = outlook_busy(tmp_path, section=tenant.section(), organizer_email=ORGANIZER)
    assert not tenant.fake.requests("/v1.0/")
    assert provider.shows_sessions and provider.client.mailbox == ORGANIZER
    assert provider.busy([person("nobody")], WEEK) == {"nobody": []}


# --- the fake's own limits, as the real client meets them -----------------------------------------------


def ask(tenant: Tenant, body: dict, prefer: tuple[str, ...] = ()) -> dict:  # type: ignore[type-arg]
    client = tenant.client()
    client.policy = RetryPolicy(attempts=1)
    return client.json("POST", f"{client.users_path}/calendar/getSchedule", body=body,  # type: ignore[no-any-return]
                       prefer=prefer)


def span(start: str, end: str, zone: str = "UTC") -> dict[str, object]:
    return {"startTime": {"dateTime": start, "timeZone": zone}, "endTime": {"dateTime": end, "timeZone": zone}}


def test_the_fake_refuses_over_20_schedules_over_62_days_and_unknown_zones(tenant: Tenant) -> None:
    day = span("2027-01-04T00:00:00", "2027-01-05T00:00:00")
    with pytest.raises(GraphApiError) as many:
        ask(tenant, {"schedules": [f"p{n}@people.example" for n in range(21)], **day})
    assert (many.value.status, many.value.code) == (400, "ErrorMailboxDataArrayTooBig")
    assert ask(tenant, {"schedules": [f"p{n}@people.example" for n in range(20)], **day})["value"]
    with pytest.raises(GraphApiError) as long:
        ask(tenant, {"schedules": ["a@people.example"], **span("2027-01-01T00:00:00", "2027-03-04T00:00:01")})
    assert (long.value.status, long.value.code) == (400, "ErrorTimeIntervalTooBig")
    assert ask(tenant, {"schedules": ["a@people.example"], **span("2027-01-01T00:00:00", "2027-03-04T00:00:00")})
    with pytest.raises(GraphApiError) as zone:
        ask(tenant, {"schedules": ["a@people.example"], **span("2027-01-04T00:00:00", "2027-01-05T00:00:00",
                                                                 "Mars/Olympus")})
    assert zone.value.code == "TimeZoneNotSupportedException"
    with pytest.raises(GraphApiError) as interval:
        ask(tenant, {"schedules": ["a@people.example"], "availabilityViewInterval": 2, **day})
    assert interval.value.code == "ErrorInvalidParameter"


def test_the_fake_answers_as_documented_in_the_preferred_zone(tenant: Tenant) -> None:
    tenant.schedule.set_items("alex@people.example", [Item(utc(6, 17), utc(6, 18), "tentative", "Standup"),
                                                      Item(utc(6, 20), utc(6, 21), "busy")])
    body = {"Schedules": ["alex@people.example", "guest@elsewhere.example"], "availabilityViewInterval": "60",
            **{k[0].upper() + k[1:]: v for k, v in span("2027-01-06T09:00:00", "2027-01-06T13:00:00",
                                                       "Pacific Standard Time").items()}}
    answer = ask(tenant, body, prefer=('outlook.timezone="Pacific Standard Time"',))
    alex, guest = answer["value"]
    assert alex["scheduleId"] == "alex@people.example" and alex["availabilityView"] == "1002"
    assert alex["scheduleItems"][0]["status"] == "tentative"
    assert alex["scheduleItems"][0]["start"] == {"dateTime": "2027-01-06T09:00:00.0000000",
                                                 "timeZone": "Pacific Standard Time"}
    assert alex["workingHours"]["daysOfWeek"][0] == "monday"
    assert guest["error"]["responseCode"] == "5009" and "scheduleItems" not in guest


def test_the_fake_lists_items_whole_and_adds_the_events_a_calendar_fake_reports(tenant: Tenant) -> None:
    tenant.schedule.extra_items = lambda email, start, end: [Item(utc(6, 9), utc(6, 10))] \
        if email == "maria@people.example" else []
    tenant.schedule.set_items("maria@people.example", [(utc(3, 22), utc(4, 2))])
    answer = ask(tenant, {"schedules": ["maria@people.example"], **span("2027-01-04T00:00:00", "2027-01-11T00:00:00")})
    assert [i["start"]["dateTime"] for i in answer["value"][0]["scheduleItems"]] == [
        "2027-01-03T22:00:00.0000000", "2027-01-06T09:00:00.0000000"]
    got = tenant.provider().busy([person("maria")], WEEK)
    assert got == {"maria": [Interval(utc(4, 0), utc(4, 2)), Interval(utc(6, 9), utc(6, 10))]}
