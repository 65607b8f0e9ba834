"""The Graph client against the fake, with real msal tokens: timeouts, one Prefer header, paging, each
failure mapped once to coachd's kinds, Retry-After honoured, 4 requests per mailbox, JSON batching."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.providers.base import CredentialsExpired, SyncCursorExpired, Throttled, Transient
from coachd.providers.microsoft.auth import graph_credentials
from coachd.providers.microsoft.client import BatchRequest, GraphApiError, GraphClient, GraphSyncStateNotFound
from coachd.providers.retry import RetryPolicy
from tests.support.fake_graph import GraphError, Request, Response
from tests.support.microsoft_auth import ORGANIZER, MicrosoftSetup, microsoft

ITEMS = [{"id": f"e{n}"} for n in range(23)]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def ms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MicrosoftSetup]:
    with microsoft(tmp_path, page_size=5) as setup:
        app = setup.app()
        monkeypatch.setenv("COACHD_TEST_SECRET", setup.identity.add_secret(app))
        setup.config(setup.section(app, "secret_env: COACHD_TEST_SECRET"))
        fake = setup.fake
        fake.route("GET", r"/v1\.0/users/(?P<mailbox>[^/]+)/events", lambda r: fake.page(r, ITEMS),
                   permissions=["Calendars.ReadWrite"])
        fake.route("GET", r"/v1\.0/users/(?P<mailbox>[^/]+)/calendarView/delta", _gone,
                   permissions=["Calendars.ReadWrite"])
        fake.route("GET", r"/v1\.0/users/(?P<mailbox>[^/]+)/events/(?P<id>[^/]+)", _missing,
                   permissions=["Calendars.ReadWrite"])
        yield setup


def _gone(_request: Request) -> Response:
    raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")


def _missing(request: Request) -> Response:
    raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def client(ms: MicrosoftSetup, sleeps: Sleeps | None = None, *, attempts: int = 4, timeout: float = 5) -> GraphClient:
    section = load_config(ms.folder / "program.yaml").organizer.calendar
    credentials = graph_credentials(section, None, organizer_email=ORGANIZER, role="calendar")
    policy = RetryPolicy(attempts=attempts, sleep=sleeps if sleeps is not None else Sleeps(), jitter=0)
    return GraphClient(credentials, ms.fake.base_url, ORGANIZER, timeout=timeout, policy=policy)


def test_pages_are_followed_to_the_end_with_every_prefer_in_one_header(ms: MicrosoftSetup) -> None:
    graph = client(ms)
    ids = [item["id"] for item in graph.items(f"{graph.users_path}/events", page_size=4,
                                              prefer=['outlook.timezone="UTC"'])]
    assert ids == [item["id"] for item in ITEMS]
    requests_made = ms.fake.requests("/events")
    assert len(requests_made) == 6  # 23 items, 4 a page
    assert {entry.headers["prefer"] for entry in requests_made} == {'outlook.timezone="UTC", odata.maxpagesize=4'}
    assert all(entry.headers.get("client-request-id") for entry in requests_made)


def test_throttling_waits_at_least_retry_after_then_succeeds(ms: MicrosoftSetup) -> None:
    sleeps = Sleeps()
    ms.fake.faults.retry_after_seconds = 17
    ms.fake.faults.fail_next("429", path_contains="/events")
    ms.fake.faults.fail_next("503", path_contains="/events")
    graph = client(ms, sleeps)
    assert graph.json("GET", f"{graph.users_path}/events")["value"][0] == {"id": "e0"}
    assert len(sleeps) == 2 and all(s >= 17 for s in sleeps)


@pytest.mark.parametrize("kind", ["429", "503", "504"])
def test_throttling_that_outlasts_the_retries_is_throttled_with_retry_after(ms: MicrosoftSetup, kind: str) -> None:
    ms.fake.faults.retry_after_seconds = 30
    ms.fake.faults.fail_next(kind, times=2, path_contains="/events")
    graph = client(ms, attempts=2)
    with pytest.raises(Throttled) as raised:
        graph.json("GET", f"{graph.users_path}/events")
    assert raised.value.retry_after is not None and raised.value.retry_after.total_seconds() == 30


@pytest.mark.parametrize("kind", ["500", "drop", "lost"])
def test_server_errors_and_lost_connections_are_transient(ms: MicrosoftSetup, kind: str) -> None:
    ms.fake.faults.fail_next(kind, times=2, path_contains="/events")
    graph = client(ms, attempts=2)
    with pytest.raises(Transient) as raised:
        graph.json("GET", f"{graph.users_path}/events")
    assert not isinstance(raised.value, Throttled)


def test_a_stalled_answer_is_a_transient_timeout(ms: MicrosoftSetup) -> None:
    ms.fake.faults.stall_seconds = 1.0
    ms.fake.faults.fail_next("stall", path_contains="/events")
    graph = client(ms, attempts=1, timeout=0.2)
    with pytest.raises(Transient, match="no answer from Graph within 0.2 s"):
        graph.json("GET", f"{graph.users_path}/events")


def test_a_revoked_access_token_is_replaced_once(ms: MicrosoftSetup) -> None:
    graph = client(ms)
    graph.json("GET", f"{graph.users_path}/events")
    tokens_before = len(ms.identity.answers)
    ms.fake.revoke_access_tokens()
    graph.json("GET", f"{graph.users_path}/events")
    assert len(ms.identity.answers) == tokens_before + 1  # one new token, not a loop
    assert [e.status for e in ms.fake.requests("/events")][-2:] == [401, 200]


def test_a_401_with_a_new_token_is_credentials_expired(ms: MicrosoftSetup) -> None:
    def refuse(_request: Request) -> Response:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")

    ms.fake.route("GET", r"/v1\.0/users/(?P<mailbox>[^/]+)/calendar/refused", refuse, permissions=["Calendars.ReadWrite"])
    graph = client(ms)
    with pytest.raises(CredentialsExpired, match="Graph refused a new token"):
        graph.json("GET", f"{graph.users_path}/calendar/refused")
    assert len(ms.fake.requests("/calendar/refused")) == 2  # never retried in a loop


def test_a_lost_delta_state_and_other_refusals_are_named(ms: MicrosoftSetup) -> None:
    graph = client(ms)
    with pytest.raises(GraphSyncStateNotFound) as gone:
        graph.json("GET", f"{graph.users_path}/calendarView/delta")
    assert isinstance(gone.value, SyncCursorExpired)
    with pytest.raises(GraphApiError) as missing:
        graph.json("GET", f"{graph.users_path}/events/nope")
    assert (missing.value.status, missing.value.code) == (404, "ErrorItemNotFound")
    assert len(ms.fake.requests("/events/nope")) == 1  # a Permanent error is not retried


def test_links_outside_the_configured_graph_are_not_followed(ms: MicrosoftSetup) -> None:
    graph = client(ms)
    with pytest.raises(GraphApiError, match="outside"):
        graph.json("GET", "https://evil.example/v1.0/users/x/events")


def test_at_most_four_requests_per_mailbox_are_in_flight(ms: MicrosoftSetup) -> None:
    graph = client(ms)
    gate = ms.fake.gate(f"{ORGANIZER}/events")
    results: list[object] = []

    def fetch() -> None:
        try:
            results.append(graph.json("GET", f"{graph.users_path}/events"))
        except Exception as error:  # noqa: BLE001 - recorded: the test fails on it below
            results.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(7)]
    for thread in threads:
        thread.start()
    assert ms.fake.wait_in_flight(ORGANIZER, 4)  # the fake holds them at its gate
    # Three threads wait in the client for a slot, none on the wire: the fake has seen four.
    assert len([e for e in ms.fake.requests("/events")]) == 0 and _in_flight(ms) == 4
    gate.set()
    for thread in threads:
        thread.join()
    assert all(isinstance(r, dict) for r in results), results
    assert max(ms.fake.peak_in_flight.values()) == 4
    assert not [e for e in ms.fake.requests("/events") if e.status == 429]


def _in_flight(ms: MicrosoftSetup) -> int:
    return sum(ms.fake.in_flight(app, ORGANIZER) for app in ms.identity.apps)


def test_a_batch_retries_only_its_throttled_requests_after_the_largest_retry_after(ms: MicrosoftSetup) -> None:
    sleeps = Sleeps()
    graph = client(ms, sleeps)
    ms.fake.faults.retry_after_seconds = 3
    ms.fake.faults.fail_next("429", inner=True, path_contains="/events")
    ms.fake.faults.retry_after_seconds = 3
    requests_ = [BatchRequest(str(n), "GET", f"{graph.users_path}/events?$top=1") for n in range(5)]
    requests_.append(BatchRequest("missing", "GET", f"{graph.users_path}/events/nope"))
    answers = graph.batch(requests_)
    assert sorted(answers) == ["0", "1", "2", "3", "4", "missing"]
    assert all(answers[str(n)].status == 200 for n in range(5))
    assert isinstance(answers["missing"].error("GET nope"), GraphApiError)
    inner = ms.fake.requests(inner=True)
    assert [e.status for e in inner] == [429, 200, 200, 200, 200, 404, 200]  # the throttled one, alone, again
    assert len(ms.fake.requests("/$batch", inner=False)) == 2
    assert sleeps == [3.0]


def test_a_batch_over_twenty_is_refused_before_sending(ms: MicrosoftSetup) -> None:
    graph = client(ms)
    with pytest.raises(ValueError, match="at most 20"):
        graph.batch([BatchRequest(str(n), "GET", "/me") for n in range(21)])
    assert not ms.fake.requests("/$batch")


def test_no_secret_or_token_in_any_error(ms: MicrosoftSetup) -> None:
    secret = os.environ["COACHD_TEST_SECRET"]
    graph = client(ms, attempts=1)
    messages = []
    for kind in ("429", "500", "drop"):
        ms.fake.faults.fail_next(kind, path_contains="/events")
        with pytest.raises(Transient) as raised:
            graph.json("GET", f"{graph.users_path}/events")
        messages.append(str(raised.value))
    token = graph.credentials.token()
    assert not [m for m in messages if secret in m or token in m]


def test_a_factory_gets_a_client_for_the_organizers_mailbox_or_the_sections(ms: MicrosoftSetup) -> None:
    from coachd.providers.credentials import CredentialStore
    from coachd.providers.family import ProviderRefused
    from coachd.providers.microsoft.connect import graph_client

    section = load_config(ms.folder / "program.yaml").organizer.calendar
    graph = graph_client(section, "calendar", credential_store=CredentialStore(ms.folder), organizer_email=ORGANIZER)
    assert graph.mailbox == ORGANIZER and graph.json("GET", f"{graph.users_path}/calendar")["mailbox"] == ORGANIZER
    other = graph_client(section.model_copy(update={"mailbox": "dana@northwind.example"}), "calendar",
                         credential_store=None, organizer_email=ORGANIZER)
    assert other.json("GET", f"{other.users_path}/calendar")["mailbox"] == "dana@northwind.example"
    with pytest.raises(ProviderRefused) as refused:
        graph_client(section, "send", credential_store=None, organizer_email=None)
    assert refused.value.field == "organizer.send.mailbox"


def test_paging_through_a_fifth_of_requests_failing_at_random_loses_nothing(ms: MicrosoftSetup) -> None:
    ms.fake.faults.rate = 0.2
    ms.fake.faults.kinds = ("429", "503", "504", "500", "drop")
    ms.fake.faults.retry_after_seconds = 2
    ms.fake.short_pages = True
    sleeps = Sleeps()
    graph = client(ms, sleeps, attempts=8)
    for _ in range(5):
        assert [item["id"] for item in graph.items(f"{graph.users_path}/events", page_size=4)] == \
            [item["id"] for item in ITEMS]
    faults = [entry.fault for entry in ms.fake.requests("/events") if entry.fault]
    assert faults and len(sleeps) == len(faults)  # each fault waited for once, never slept for real
    assert all(seconds >= 2 for seconds, fault in zip(sleeps, faults, strict=True) if fault != "500" and fault != "drop")
