"""The fake Graph's core as a client sees it on the wire: tokens and their permissions, Graph's error
shape, paging with Prefer: odata.maxpagesize, JSON batching, the mailbox concurrency limit, faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.support.fake_graph import FakeGraph, Principal, Request, Response

MAILBOX = "coaching@northwind.example"
TENANT = "tenant-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2027, 1, 4, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeGraph]:
    with FakeGraph(now=clock, page_size=4) as graph:
        graph.add_mailbox(MAILBOX, TENANT)
        graph.add_mailbox("other@northwind.example", TENANT)
        items = [{"id": str(n)} for n in range(11)]
        graph.route("GET", r"/v1\.0/users/(?P<mailbox>[^/]+)/events", lambda r: graph.page(r, items),
                    permissions=["Calendars.Read", "Calendars.ReadWrite"])
        graph.route("POST", r"/v1\.0/users/(?P<mailbox>[^/]+)/sendMail", lambda r: Response(202),
                    permissions=["Mail.Send"])
        yield graph


def token(fake: FakeGraph, *permissions: str, kind: str = "app", user: str | None = None,
          lifetime: timedelta = timedelta(hours=1)) -> dict[str, str]:
    principal = Principal(kind, TENANT, "app-1", frozenset(permissions), fake.now() + lifetime, user)
    return {"Authorization": f"Bearer {fake.issue_token(principal)}"}


def get(fake: FakeGraph, path: str, headers: dict[str, str], **kwargs: object) -> requests.Response:
    return requests.get(fake.api_url + path, headers=headers, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_errors_have_graphs_shape_with_the_clients_request_id(fake: FakeGraph, clock: Clock) -> None:
    answer = get(fake, f"/users/{MAILBOX}/events", {"client-request-id": "abc-123"})
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["innerError"]["client-request-id"] == "abc-123"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert error["innerError"]["date"] == "2027-01-04T09:00:00"  # the fake's clock


def test_tokens_expire_on_the_fakes_clock_and_carry_their_permissions(fake: FakeGraph, clock: Clock) -> None:
    reader = token(fake, "Calendars.Read")
    assert get(fake, f"/users/{MAILBOX}/events", reader).status_code == 200
    denied = requests.post(f"{fake.api_url}/users/{MAILBOX}/sendMail", headers=reader, json={}, timeout=5)
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "ErrorAccessDenied")
    clock.now += timedelta(hours=1)
    expired = get(fake, f"/users/{MAILBOX}/events", reader)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]


def test_app_only_reaches_the_tenants_mailboxes_unless_restricted(fake: FakeGraph) -> None:
    app = token(fake, "Calendars.Read")
    assert get(fake, "/users/stranger@elsewhere.example/events", app).json()["error"]["code"] == "ErrorInvalidUser"
    assert get(fake, "/users/other@northwind.example/events", app).status_code == 200
    fake.restrict_app("app-1", [MAILBOX])
    blocked = get(fake, "/users/other@northwind.example/events", app)
    assert blocked.status_code == 403 and "AccessPolicy" in blocked.json()["error"]["message"]
    assert get(fake, f"/users/{MAILBOX}/events", app).status_code == 200


def test_a_delegated_token_reaches_its_own_mailbox_only(fake: FakeGraph) -> None:
    mine = token(fake, "Calendars.Read", kind="delegated", user=MAILBOX)
    assert get(fake, f"/users/{MAILBOX}/events", mine).status_code == 200
    assert get(fake, "/users/other@northwind.example/events", mine).status_code == 403


def test_pages_follow_next_links_and_honour_maxpagesize(fake: FakeGraph) -> None:
    headers = {**token(fake, "Calendars.Read"), "Prefer": "odata.maxpagesize=3"}
    first = get(fake, f"/users/{MAILBOX}/events", headers, params={"$select": "id"})
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=3"
    seen = [item["id"] for item in first.json()["value"]]
    link = first.json()["@odata.nextLink"]
    assert "%24select=id" in link or "$select=id" in link  # the query rides in the link
    while link:
        page = requests.get(link, headers=headers, timeout=5).json()
        seen += [item["id"] for item in page["value"]]
        link = page.get("@odata.nextLink")
    assert seen == [str(n) for n in range(11)]
    # Without Prefer, the fake's own page size (4) caps the page.
    assert len(get(fake, f"/users/{MAILBOX}/events", token(fake, "Calendars.Read")).json()["value"]) == 4


def test_the_fifth_concurrent_request_on_a_mailbox_is_throttled(fake: FakeGraph) -> None:
    headers = token(fake, "Calendars.Read")
    gate = fake.gate(f"{MAILBOX}/events")
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(get(fake, f"/users/{MAILBOX}/events", headers)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    assert fake.wait_in_flight(MAILBOX, 4)  # the four are inside: the fake holds them at its gate
    fifth = get(fake, f"/users/{MAILBOX}/events", headers)
    other = get(fake, "/users/other@northwind.example/events", headers)  # another mailbox is not limited
    gate.set()
    for thread in threads:
        thread.join()
    assert fifth.status_code == 429 and fifth.headers["Retry-After"] == "1"
    assert fifth.json()["error"]["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in fifth.json()["error"]["message"]
    assert other.status_code == 200 and [a.status_code for a in answers] == [200] * 4


def test_batches_take_twenty_requests_and_answer_inner_faults_inside(fake: FakeGraph) -> None:
    headers = token(fake, "Calendars.Read")
    too_many = {"requests": [{"id": str(n), "method": "GET", "url": f"/users/{MAILBOX}/events"} for n in range(21)]}
    refused = requests.post(fake.api_url + "/$batch", headers=headers, json=too_many, timeout=5)
    assert refused.status_code == 400 and "20" in refused.json()["error"]["message"]
    fake.faults.retry_after_seconds = 7
    fake.faults.fail_next("429", inner=True, path_contains="/events")
    body = {"requests": [{"id": "a", "method": "GET", "url": f"/users/{MAILBOX}/events"},
                         {"id": "b", "method": "GET", "url": f"/users/{MAILBOX}/events?$top=1"},
                         {"id": "c", "method": "POST", "url": f"/users/{MAILBOX}/sendMail", "body": {},
                          "headers": {"Content-Type": "application/json"}}]}
    answer = requests.post(fake.api_url + "/$batch", headers=headers, json=body, timeout=5)
    assert answer.status_code == 200
    by_id = {item["id"]: item for item in answer.json()["responses"]}
    assert by_id["a"]["status"] == 429 and by_id["a"]["headers"]["Retry-After"] == "7"
    assert by_id["b"]["status"] == 200 and by_id["c"]["status"] == 403  # each inner request is authorised
    assert [entry.status for entry in fake.requests(inner=True)] == [429, 200, 403]


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("503", 503), ("504", 504), ("500", 500)])
def test_scripted_faults_answer_with_retry_after(fake: FakeGraph, kind: str, status: int) -> None:
    fake.faults.fail_next(kind)
    answer = get(fake, f"/users/{MAILBOX}/events", token(fake, "Calendars.Read"))
    assert answer.status_code == status
    assert ("Retry-After" in answer.headers) == (kind != "500")
    assert fake.requests("/events")[-1].fault == kind


def test_a_dropped_connection_answers_nothing(fake: FakeGraph) -> None:
    fake.faults.fail_next("drop")
    with pytest.raises(requests.ConnectionError):
        get(fake, f"/users/{MAILBOX}/events", token(fake, "Calendars.Read"))


def test_unknown_paths_and_methods(fake: FakeGraph) -> None:
    headers = token(fake, "Calendars.Read")
    assert get(fake, "/nothing/here", headers).json()["error"]["code"] == "BadRequest"
    assert requests.delete(f"{fake.api_url}/users/{MAILBOX}/events", headers=headers, timeout=5).status_code == 405


def test_the_prefer_header_is_read_as_one_list(fake: FakeGraph) -> None:
    seen: list[dict[str, str]] = []

    def record(request: Request) -> Response:
        seen.append(request.prefers())
        return Response(body={})

    fake.route("GET", r"/v1\.0/users/(?P<mailbox>[^/]+)/calendar", record, permissions=["Calendars.Read"])
    get(fake, f"/users/{MAILBOX}/calendar",
        {**token(fake, "Calendars.Read"), "Prefer": 'outlook.timezone="Eastern Standard Time", odata.maxpagesize=5'})
    assert seen == [{"outlook.timezone": "Eastern Standard Time", "odata.maxpagesize": "5"}]
