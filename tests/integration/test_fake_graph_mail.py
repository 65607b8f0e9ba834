"""The fake's Outlook mail as Graph answers it, asked directly through the Graph client: sendMail's MIME
form and its limits, the message delta's pages, @removed and expired state, $value, categories, moves."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.providers.microsoft.client import GraphApiError, GraphClient, GraphSyncStateNotFound
from tests.contracts.inbox_suite import reply
from tests.support.fake_graph.mail import MAX_REQUEST_BYTES
from tests.support.outlook_fixtures import ORGANIZER, Outlook, TestClock, outlook


@pytest.fixture
def ol(tmp_path: Path) -> Iterator[Outlook]:
    with outlook(tmp_path, TestClock(), page_size=2) as running:
        yield running


@pytest.fixture
def graph(ol: Outlook) -> GraphClient:
    return ol.client(attempts=1)


def send(graph: GraphClient, body: bytes, content_type: str = "text/plain") -> int:
    return graph.request("POST", f"{graph.users_path}/sendMail", body=body,
                         headers={"Content-Type": content_type}).status_code


def test_send_mail_takes_base64_mime_answers_202_and_files_a_copy_in_sent_items(ol, graph):
    assert send(graph, base64.b64encode(reply(1).replace(b"To: ", b"To: x@y.example, ", 1))) == 202
    found = graph.json("GET", f"{graph.users_path}/mailFolders/sentitems/messages",
                       params={"$filter": "internetMessageId eq '<reply-1@northwind.example>'"})
    assert [m["internetMessageId"] for m in found["value"]] == ["<reply-1@northwind.example>"]


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b"not base64!", "text/plain", 400, "ErrorMimeContentInvalidBase64String"),
    (base64.b64encode(b"Subject: nobody\r\n\r\nhi\r\n"), "text/plain", 400, "ErrorInvalidRecipients"),
    (b"{}", "application/json", 400, "ErrorInvalidRequest"),
    (b"A" * (MAX_REQUEST_BYTES + 4), "text/plain", 413, "RequestEntityTooLarge"),
])
def test_send_mail_refusals_in_graphs_error_shape(ol, graph, body, content_type, status, code):
    with pytest.raises(GraphApiError) as refused:
        send(graph, body, content_type)
    assert (refused.value.status, refused.value.code) == (status, code)
    (logged,) = ol.fake.requests("/sendMail")
    assert logged.status == status and ol.mail.sends == []


def test_the_delta_pages_then_reports_changes_and_removals_then_expires(ol, graph):
    ids = [ol.mail.deliver(ORGANIZER, reply(n)) for n in range(1, 6)]
    path = f"{graph.users_path}/mailFolders/inbox/messages/delta"
    pages = list(graph.pages(path))
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert all("@odata.nextLink" in p for p in pages[:-1]) and "@odata.deltaLink" in pages[-1]
    assert [m["id"] for p in pages for m in p["value"]] == ids
    link = pages[-1]["@odata.deltaLink"]
    raw = graph.request("GET", f"{graph.users_path}/messages/{ids[0]}/$value").content
    assert raw == reply(1)
    graph.json("PATCH", f"{graph.users_path}/messages/{ids[1]}", body={"categories": ["done"]})
    moved = graph.json("POST", f"{graph.users_path}/messages/{ids[2]}/move", body={"destinationId": "archive"})
    assert moved["id"] != ids[2]
    new = ol.mail.deliver(ORGANIZER, reply(6))
    changes = [m for p in graph.pages(link) for m in p["value"]]
    assert changes == [
        {**changes[0], "id": ids[1], "categories": ["done"]},
        {"id": ids[2], "@removed": {"reason": "deleted"}},
        {**changes[2], "id": new},
    ]
    ol.mail.expire_delta(ORGANIZER)
    with pytest.raises(GraphSyncStateNotFound):
        list(graph.pages(link))
    (gone,) = [e for e in ol.fake.requests("/messages/delta") if e.status == 410]
    assert gone.query.get("$deltatoken")


def test_the_delta_takes_only_a_received_date_filter(ol, graph):
    path = f"{graph.users_path}/mailFolders/inbox/messages/delta"
    with pytest.raises(GraphApiError) as refused:
        graph.json("GET", path, params={"$filter": "subject eq 'x'"})
    assert refused.value.status == 400
    ol.mail.deliver(ORGANIZER, reply(1))
    later = ol.fake.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert graph.json("GET", path, params={"$filter": f"receivedDateTime gt {later}"})["value"] == []


def test_mail_permissions_are_enforced(ol):
    sender_only = ol.client(("Mail.Send",), attempts=1)
    message = ol.mail.deliver(ORGANIZER, reply(1))
    with pytest.raises(GraphApiError) as refused:
        sender_only.request("GET", f"{sender_only.users_path}/messages/{message}/$value")
    assert refused.value.status == 403
    reader = ol.client(("Mail.Read",), attempts=1)
    with pytest.raises(GraphApiError) as refused:
        reader.json("PATCH", f"{reader.users_path}/messages/{message}", body={"categories": ["x"]})
    assert refused.value.status == 403
