"""Google free/busy (GoogleBusy against the fake's freebusy.query) runs the busy contract; Google specifics beside it:
chunking to 50 people and 90 days, per-calendar errors, faults, quotas, scopes and people outside the Workspace."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from google.oauth2.credentials import Credentials

from coachd.model.types import UTC, Interval
from coachd.providers.base import BusyPerson, BusySourceError, CredentialsExpired, Throttled
from coachd.providers.busy import CombinedBusy, EachPersonBusy, ask_within_limits
from coachd.providers.google.busy import FREEBUSY_SCOPE, MAX_CALENDARS, MAX_WINDOW, GoogleBusy, google_busy
from coachd.providers.google.client import GoogleApiError, build_service, execute
from coachd.providers.local.busy_ics import IcsBusySource
from coachd.providers.retry import RetryPolicy
from tests.contracts.busy_suite import UNREADABLE, WEEK, AllDay, BusyContract, Calendar, MakeSource, Timed, utc
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.freebusy import FakeFreeBusy

ORGANIZER = "coaching@northwind.example"


def expand(calendar: Calendar) -> list[tuple[datetime, datetime]]:
    """A calendar's events as the busy blocks Google derives from them (it expands recurrences itself)."""
    zone = ZoneInfo(calendar.zone)
    blocks = []
    for event in calendar.events:
        if isinstance(event, AllDay):
            first = datetime.combine(event.first, datetime.min.time(), zone)
            blocks.append((first, datetime.combine(event.first + timedelta(days=event.days), datetime.min.time(), zone)))
            continue
        assert isinstance(event, Timed)
        for week in range(event.weekly):
            # Wall-clock arithmetic in the event's own zone, as a weekly rule keeps its local time across DST.
            start = event.start + timedelta(weeks=week)
            if start not in event.skipped:
                blocks.append((start, event.end + timedelta(weeks=week)))
    return blocks


class Google:
    """A started fake with free/busy, and GoogleBusy providers talking to it through the real client."""

    def __init__(self, fake: FakeGoogle) -> None:
        self.fake = fake
        self.freebusy = FakeFreeBusy(fake)
        self.sleeps: list[float] = []
        self.now = datetime(2027, 1, 4, 12, tzinfo=UTC)

    def provider(self, scopes: tuple[str, ...] = (FREEBUSY_SCOPE,), token: str | None = None) -> GoogleBusy:
        credentials = Credentials(token=token or self.fake.issue_access_token(ORGANIZER,
                                                                                                         scopes))
        return GoogleBusy(credentials, api_root=self.fake.base_url, timeout=2,
                          policy=RetryPolicy(sleep=self.sleeps.append), clock=lambda: self.now)

    def freebusy_calls(self) -> int:
        return len(self.fake.requests("/calendar/v3/freeBusy", "POST"))


@pytest.fixture
def google() -> Iterator[Google]:
    with FakeGoogle() as fake:
        yield Google(fake)


def person(pid: str) -> BusyPerson:
    return BusyPerson(pid, f"{pid}@people.example")


class TestGoogleFreeBusy(BusyContract):
    max_window = MAX_WINDOW
    max_batch = MAX_CALENDARS

    @pytest.fixture
    def make_source(self, google: Google) -> MakeSource:
        def make(calendars: Mapping[str, Calendar]) -> GoogleBusy:
            for pid, calendar in calendars.items():
                email = f"{pid}@people.example"
                if calendar is UNREADABLE:
                    google.freebusy.add_person(email)
                    google.freebusy.fail_calendar(email, "internalError")
                else:
                    google.freebusy.set_busy(email, expand(calendar))
            return google.provider()

        return make


# --- chunking, counted in the fake's request log ------------------------------------------------------


def test_120_people_are_asked_in_3_calls_of_at_most_50(google: Google) -> None:
    people = [person(f"p{n:03}") for n in range(120)]
    for n, who in enumerate(people):
        google.freebusy.set_busy(who.email, [(utc(5, n % 24), utc(5, n % 24, 30))])
    got = ask_within_limits(google.provider(), people, WEEK)
    assert google.freebusy_calls() == 3
    assert not got.failures and len(got) == 120
    assert got["p119"] == [Interval(utc(5, 119 % 24), utc(5, 119 % 24, 30))]


def test_200_days_are_asked_in_3_windows_and_a_block_across_a_seam_comes_back_whole(google: Google) -> None:
    window = Interval(utc(1, 0), utc(1, 0) + timedelta(days=200))
    seam = window.start + MAX_WINDOW  # where the first request ends and the second begins
    google.freebusy.set_busy("maria@people.example", [(seam - timedelta(hours=1), seam + timedelta(hours=1))])
    asked: list[Interval] = []

    def call(busy, people, part):  # type: ignore[no-untyped-def]
        asked.append(part)
        return busy(people, part)

    got = ask_within_limits(google.provider(), [person("maria")], window, call=call)
    assert google.freebusy_calls() == 3
    assert [a.duration for a in asked] == [timedelta(days=90), timedelta(days=90), timedelta(days=20)]
    assert got == {"maria": [Interval(seam - timedelta(hours=1), seam + timedelta(hours=1))]}


def test_one_call_asks_each_address_once_and_answers_every_person(google: Google) -> None:
    google.freebusy.set_busy("shared@people.example", [(utc(5, 9), utc(5, 10))])
    both = [BusyPerson("a", "shared@people.example"), BusyPerson("b", "Shared@People.example")]
    got = google.provider().busy(both, WEEK)
    assert got == {"a": [Interval(utc(5, 9), utc(5, 10))], "b": [Interval(utc(5, 9), utc(5, 10))]}
    assert google.freebusy_calls() == 1


# --- per-calendar errors and faults --------------------------------------------------------------------


def test_one_persons_internal_error_fails_only_that_person(google: Google) -> None:
    people = [person(f"p{n}") for n in range(60)]
    for who in people:
        google.freebusy.set_busy(who.email, [(utc(5, 9), utc(5, 10))])
    google.freebusy.fail_calendar("p55@people.example", "internalError")
    got = ask_within_limits(google.provider(), people, WEEK)
    assert set(got.failures) == {"p55"} and len(got) == 59
    failure = got.failures["p55"]
    assert isinstance(failure, BusySourceError) and "internalError" in str(failure)
    assert failure.source == "Google free/busy of p55@people.example"


@pytest.mark.parametrize("faults", [("429",), ("503",), ("500", "403-rate"), ("403-user-rate",), ("drop",), ("lost",)])
def test_throttling_server_errors_and_lost_connections_are_retried(google: Google, faults: tuple[str, ...]) -> None:
    google.freebusy.set_busy("maria@people.example", [(utc(5, 9), utc(5, 10))])
    for kind in faults:
        google.fake.faults.fail_next(kind, path_contains="/freeBusy")
    got = google.provider().busy([person("maria")], WEEK)
    assert got == {"maria": [Interval(utc(5, 9), utc(5, 10))]} and not got.failures
    logged = google.fake.requests("/freeBusy")
    assert [e.fault for e in logged][:len(faults)] == list(faults) and logged[-1].status == 200
    if "429" in faults:
        assert google.sleeps[0] >= 1, "Retry-After honoured"


def test_an_answer_slower_than_the_timeout_is_asked_again(google: Google) -> None:
    google.freebusy.set_busy("maria@people.example", [(utc(5, 9), utc(5, 10))])
    google.fake.faults.stall_seconds = 0.6  # bounded: the fake holds its answer this long, once
    google.fake.faults.fail_next("stall", path_contains="/freeBusy")
    # The stalled answer is written to a socket the client already closed: that is expected, not news.
    assert google.fake._server is not None
    google.fake._server.handle_error = lambda *_: None  # type: ignore[method-assign]
    provider = google.provider()
    provider.timeout = 0.3
    assert provider.busy([person("maria")], WEEK) == {"maria": [Interval(utc(5, 9), utc(5, 10))]}
    assert len(google.sleeps) == 1, "the timed-out attempt was retried once"


def test_a_fault_that_outlasts_the_retries_fails_everyone_of_that_request_only(google: Google) -> None:
    people = [person(f"p{n}") for n in range(70)]
    for who in people:
        google.freebusy.set_busy(who.email, [(utc(5, 9), utc(5, 10))])
    google.fake.faults.fail_next("503", times=4, path_contains="/freeBusy")  # the first request's every attempt
    got = ask_within_limits(google.provider(), people, WEEK)
    assert set(got.failures) == {f"p{n}" for n in range(50)} and set(got) == {f"p{n}" for n in range(50, 70)}


def test_the_daily_quota_stops_asking_until_it_resets(google: Google) -> None:
    google.freebusy.set_busy("maria@people.example", [(utc(5, 9), utc(5, 10))])
    provider = google.provider()
    google.fake.faults.fail_next("403-quota", times=10, path_contains="/freeBusy")
    for _ in range(3):
        got = ask_within_limits(provider, [person("maria")], WEEK)
        assert isinstance(got.failures["maria"], Throttled)
    assert google.freebusy_calls() == 1, "no request while the quota is known to be exhausted"
    google.fake.faults.scripted.clear()
    google.now += timedelta(days=1)
    assert provider.busy([person("maria")], WEEK) == {"maria": [Interval(utc(5, 9), utc(5, 10))]}


def test_refused_credentials_are_credentials_expired_not_a_failure_of_people(google: Google) -> None:
    provider = google.provider(token="ya29.revoked")  # no refresh token: a person must log in again
    with pytest.raises(CredentialsExpired):
        ask_within_limits(provider, [person("maria")], WEEK)
    # Joined with people's own feeds as the daemon asks it: still raised, for the role's health to record.
    with pytest.raises(CredentialsExpired):
        CombinedBusy(provider, EachPersonBusy(IcsBusySource({}, Path(".")))).busy([person("maria")], WEEK)


def test_least_privilege_scope_is_enough_and_an_unrelated_one_is_not(google: Google) -> None:
    google.freebusy.set_busy("maria@people.example", [(utc(5, 9), utc(5, 10))])
    assert google.provider().busy([person("maria")], WEEK) == {"maria": [Interval(utc(5, 9), utc(5, 10))]}
    narrow = google.provider(scopes=("https://www.googleapis.com/auth/gmail.send",))
    got = ask_within_limits(narrow, [person("maria")], WEEK)
    assert isinstance(got.failures["maria"], GoogleApiError) and got.failures["maria"].status == 403


# --- people outside the Workspace ---------------------------------------------------------------------------


def test_someone_google_does_not_know_is_free_and_said_once(google: Google, caplog: pytest.LogCaptureFixture) -> None:
    provider = google.provider()
    with caplog.at_level(logging.WARNING, "coachd.google"):
        for _ in range(2):
            got = provider.busy([person("guest")], WEEK)
            assert got == {"guest": []} and not got.failures
    assert provider.not_found == {"guest@people.example"}
    assert [r.getMessage() for r in caplog.records].count(next(r.getMessage() for r in caplog.records)) == 1
    assert "guest@people.example" in caplog.records[0].getMessage()


def test_outside_the_workspace_with_a_feed_reads_the_feed_and_is_not_failed(google: Google, tmp_path: Path) -> None:
    # Dana is in the Workspace; Maria is a guest Google answers notFound for, with her own ICS file.
    google.freebusy.set_busy("dana@northwind.example", [(utc(5, 9), utc(5, 10))])
    (tmp_path / "maria.ics").write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:m@test\r\n"
        b"DTSTAMP:20260101T000000Z\r\nDTSTART:20270106T140000Z\r\nDTEND:20270106T150000Z\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n")
    own = EachPersonBusy(IcsBusySource({"maria": "maria.ics"}, tmp_path))
    combined = CombinedBusy(google.provider(), own)
    got = combined.busy([BusyPerson("dana", "dana@northwind.example"), BusyPerson("maria", "maria@guest.example")],
                        WEEK)
    assert not got.failures
    assert got == {"dana": [Interval(utc(5, 9), utc(5, 10))], "maria": [Interval(utc(6, 14), utc(6, 15))]}
    # Only people with a feed are asked of the feed source; Google was asked about both in one call.
    assert google.freebusy_calls() == 1


# --- the fake's own limits, as the real client meets them ------------------------------------------------


def query(google: Google, body: dict) -> dict:  # type: ignore[type-arg]
    token = google.fake.issue_access_token(ORGANIZER, [FREEBUSY_SCOPE])
    service = build_service("calendar", "v3", google.fake.base_url,
                            Credentials(token=token), timeout=2)
    return execute(service.freebusy().query(body=body), "freebusy.query", RetryPolicy(attempts=1))  # type: ignore[no-any-return]


def test_the_fake_refuses_empty_and_too_long_ranges_and_answers_too_many_calendars_per_calendar(
        google: Google) -> None:
    with pytest.raises(GoogleApiError) as empty:
        query(google, {"timeMin": "2027-01-05T00:00:00Z", "timeMax": "2027-01-05T00:00:00Z", "items": []})
    assert (empty.value.status, empty.value.reason) == (400, "timeRangeEmpty")
    with pytest.raises(GoogleApiError) as long:
        query(google, {"timeMin": "2027-01-01T00:00:00Z", "timeMax": "2027-04-01T00:00:01Z", "items": []})
    assert (long.value.status, long.value.reason) == (400, "timeRangeTooLong")
    items = [{"id": f"p{n}@people.example"} for n in range(51)]
    answer = query(google, {"timeMin": "2027-01-01T00:00:00Z", "timeMax": "2027-01-02T00:00:00Z", "items": items})
    assert len(answer["calendars"]) == 51
    assert all(c["errors"][0]["reason"] == "tooManyCalendarsRequested" for c in answer["calendars"].values())


def test_the_fake_answers_in_the_asked_zone_and_google_busy_reads_any_offset_as_utc(google: Google) -> None:
    google.freebusy.set_busy("kenji@people.example", [(utc(5, 0), utc(5, 1))])
    body = {"timeMin": "2027-01-04T00:00:00Z", "timeMax": "2027-01-11T00:00:00Z", "timeZone": "Asia/Tokyo",
            "items": [{"id": "kenji@people.example"}]}
    answer = query(google, body)
    assert answer["calendars"]["kenji@people.example"]["busy"] == [
        {"start": "2027-01-05T09:00:00+09:00", "end": "2027-01-05T10:00:00+09:00"}]
    read = google.provider()._read([person("kenji")], WEEK, answer["calendars"])
    assert read == {"kenji": [Interval(utc(5, 0), utc(5, 1))]}
    assert all(i.start.utcoffset() == timedelta(0) for i in read["kenji"])


def test_groups_expand_to_their_members_up_to_group_expansion_max(google: Google) -> None:
    google.freebusy.set_busy("a@people.example", [(utc(5, 9), utc(5, 10))])
    google.freebusy.add_group("team@people.example", ["a@people.example", "b@people.example"])
    base = {"timeMin": "2027-01-04T00:00:00Z", "timeMax": "2027-01-11T00:00:00Z",
            "items": [{"id": "team@people.example"}]}
    answer = query(google, base)
    assert answer["groups"]["team@people.example"]["calendars"] == ["a@people.example", "b@people.example"]
    assert set(answer["calendars"]) == {"a@people.example", "b@people.example"}
    small = query(google, {**base, "groupExpansionMax": 1})
    assert small["groups"]["team@people.example"]["errors"][0]["reason"] == "groupTooBig"


def test_the_fake_adds_the_events_a_calendar_fake_reports(google: Google) -> None:
    events = {"maria@people.example": [(utc(6, 9), utc(6, 10))]}
    google.freebusy.extra_busy = lambda email, start, end: events.get(email, [])
    google.freebusy.set_busy("maria@people.example", [(utc(5, 9), utc(5, 10))])
    got = google.provider().busy([person("maria")], WEEK)
    assert got == {"maria": [Interval(utc(5, 9), utc(5, 10)), Interval(utc(6, 9), utc(6, 10))]}


def test_the_factory_takes_ready_credentials(google: Google, tmp_path: Path) -> None:
    token = google.fake.issue_access_token(ORGANIZER, [FREEBUSY_SCOPE])
    provider = google_busy(tmp_path, api_root=google.fake.base_url,
                           credentials=Credentials(token=token))
    assert provider.busy([person("nobody")], WEEK) == {"nobody": []}
