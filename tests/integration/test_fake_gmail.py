"""The fake Gmail as the real client library sees it: both forms of messages.send, Gmail's threading
rule, search, history paging and expiry, labels, formats, scopes and delegation."""

from __future__ import annotations

import base64
import email.policy
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload

from coachd.providers.google.gmail_service import GMAIL_MODIFY, GMAIL_SEND
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.gmail import FakeGmail
from tests.support.gmail_fixtures import ORGANIZER, TestClock, fake_gmail, organizer_service

ANA = "ana@northwind.example"


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def google(clock: TestClock) -> Iterator[tuple[FakeGoogle, FakeGmail]]:
    with fake_gmail(clock) as running:
        yield running


def mail(n: int, subject: str = "Agenda", refers: str | None = None, to: str = ANA) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = ORGANIZER, to, subject
    msg["Message-ID"] = f"<m{n}@northwind.example>"
    if refers:
        msg["In-Reply-To"] = msg["References"] = refers
    msg.set_content(f"message {n}\n")
    return msg.as_bytes(policy=email.policy.SMTP)


def raw_body(raw: bytes, **extra: str) -> dict[str, str]:
    return {"raw": base64.urlsafe_b64encode(raw).decode(), **extra}


def reason(error: pytest.ExceptionInfo[HttpError]) -> tuple[int, str]:
    return error.value.status_code, error.value.error_details[0]["reason"]


def test_send_in_both_forms_and_gmails_threading_rule(google):
    fake, gmail = google
    client = organizer_service(fake, [GMAIL_MODIFY]).users().messages()
    first = client.send(userId="me", body=raw_body(mail(1))).execute()
    assert first["labelIds"] == ["SENT"]
    # The media-upload form (multipart: metadata with the threadId, then the message).
    upload = MediaInMemoryUpload(mail(2, "Re: agenda", "<m1@northwind.example>"), mimetype="message/rfc822")
    second = client.send(userId="me", body={"threadId": first["threadId"]}, media_body=upload).execute()
    assert second["threadId"] == first["threadId"]
    assert "uploadType" in fake.requests("/upload/gmail/v1/")[0].query
    assert gmail.sent_by(ORGANIZER)[1] == mail(2, "Re: agenda", "<m1@northwind.example>")  # byte for byte
    # Another subject, or no References, or no threadId: a thread of its own.
    for n, raw, thread in [(3, mail(3, "Summary", "<m1@northwind.example>"), first["threadId"]),
                           (4, mail(4, "Agenda"), first["threadId"]),
                           (5, mail(5, "Agenda", "<m1@northwind.example>"), None)]:
        body = raw_body(raw, threadId=thread) if thread else raw_body(raw)
        assert client.send(userId="me", body=body).execute()["threadId"] != first["threadId"], n
    with pytest.raises(HttpError) as gone:
        client.send(userId="me", body=raw_body(mail(6), threadId="ffffffffffffffff")).execute()
    assert reason(gone) == (404, "notFound")
    assert len(gmail.sent_by(ORGANIZER)) == 5
    thread = organizer_service(fake, [GMAIL_MODIFY]).users().threads().get(
        userId="me", id=first["threadId"], format="minimal").execute()
    assert [m["id"] for m in thread["messages"]] == [first["id"], second["id"]]


def test_mail_to_a_user_the_fake_holds_arrives_in_their_inbox_plus_address_included(google):
    fake, gmail = google
    gmail.mailbox(ANA)
    client = organizer_service(fake, [GMAIL_SEND]).users().messages()
    client.send(userId=ORGANIZER, body=raw_body(mail(1, to="Ana <ana+coaching@northwind.example>"))).execute()
    assert gmail.held(ANA) == [mail(1, to="Ana <ana+coaching@northwind.example>")]
    (message,) = gmail.mailbox(ANA).messages.values()
    assert message.labels == {"INBOX", "UNREAD"}


def test_refusals(google):
    fake, _ = google
    client = organizer_service(fake, [GMAIL_MODIFY]).users()
    cases = [
        (lambda: client.messages().send(userId="me", body={}).execute(), (400, "invalidArgument")),
        (lambda: client.messages().send(userId="me", body=raw_body(b"Subject: x\r\n\r\nno one")).execute(),
         (400, "invalidArgument")),
        (lambda: client.messages().list(userId="someone@else.example").execute(), (403, "forbidden")),
        (lambda: client.messages().list(userId="me", q="pricing proposal").execute(), (400, "invalidArgument")),
        (lambda: client.messages().get(userId="me", id="nothing-like-an-id").execute(), (400, "invalidArgument")),
        (lambda: client.messages().get(userId="me", id="0123456789abcdef").execute(), (404, "notFound")),
        (lambda: client.labels().create(userId="me", body={"name": "INBOX"}).execute(), (400, "invalidArgument")),
        (lambda: client.history().list(userId="me").execute(), (400, "invalidArgument")),
    ]
    for call, expected in cases:
        with pytest.raises(HttpError) as refused:
            call()
        assert reason(refused) == expected
    with pytest.raises(HttpError) as scope:
        organizer_service(fake, [GMAIL_SEND]).users().messages().list(userId="me").execute()
    assert reason(scope) == (403, "insufficientPermissions")


def test_search_by_message_id_date_and_label_and_the_index_lag(google, clock):
    fake, gmail = google
    client = organizer_service(fake, [GMAIL_MODIFY]).users()
    old = gmail.deliver(ORGANIZER, mail(1), at=clock.now - timedelta(days=3))
    new = gmail.deliver(ORGANIZER, mail(2))
    label = client.labels().create(userId="me", body={"name": "coachd/processed"}).execute()["id"]
    client.messages().modify(userId="me", id=old, body={"addLabelIds": [label]}).execute()

    def ids(q: str | None = None, **params: object) -> list[str]:
        answer = client.messages().list(userId="me", q=q, **params).execute()
        return [m["id"] for m in answer.get("messages", [])]

    assert ids("rfc822msgid:m2@northwind.example") == ids("rfc822msgid:<m2@northwind.example>") == [new]
    assert ids(f"after:{int((clock.now - timedelta(days=1)).timestamp())}") == [new]
    assert ids("-label:coachd-processed in:inbox") == ids("-label:coachd/processed") == [new]
    assert ids("newer_than:7d") == [new, old]  # newest first
    gmail.search_delay = timedelta(minutes=1)
    gmail.deliver(ORGANIZER, mail(3))
    assert ids("rfc822msgid:m3@northwind.example") == []  # not indexed yet
    assert len(ids(labelIds=["INBOX"])) == 3  # listing by label needs no index
    clock.advance(timedelta(minutes=2))
    assert len(ids("rfc822msgid:m3@northwind.example")) == 1


def test_history_pages_filters_and_expiry(google):
    fake, gmail = google
    client = organizer_service(fake, [GMAIL_MODIFY]).users()
    start = client.getProfile(userId="me").execute()["historyId"]
    delivered = [gmail.deliver(ORGANIZER, mail(n)) for n in range(12)]
    gmail.deliver(ORGANIZER, mail(99), labels=("SPAM",))
    client.messages().modify(userId="me", id=delivered[0], body={"removeLabelIds": ["UNREAD"]}).execute()
    seen: list[str] = []
    pages = 0
    token = None
    while True:
        answer = client.history().list(userId="me", startHistoryId=start, historyTypes=["messageAdded"],
                                       labelId="INBOX", pageToken=token).execute()
        pages += 1
        seen += [added["message"]["id"] for record in answer.get("history", [])
                 for added in record.get("messagesAdded", [])]
        token = answer.get("nextPageToken")
        if not token:
            break
    assert seen == delivered and pages > 2  # short pages, in order, the spam and the label change left out
    gmail.expire_history(ORGANIZER)
    with pytest.raises(HttpError) as expired:
        client.history().list(userId="me", startHistoryId=start).execute()
    assert reason(expired) == (404, "notFound")
    fresh = client.getProfile(userId="me").execute()["historyId"]
    assert client.history().list(userId="me", startHistoryId=fresh).execute().get("history") is None


def test_message_formats(google):
    fake, gmail = google
    client = organizer_service(fake, [GMAIL_MODIFY]).users().messages()
    ref = gmail.deliver(ORGANIZER, mail(1))
    raw = client.get(userId="me", id=ref, format="raw").execute()
    assert base64.urlsafe_b64decode(raw["raw"]) == mail(1)
    minimal = client.get(userId="me", id=ref, format="minimal").execute()
    assert "raw" not in minimal and "payload" not in minimal and minimal["labelIds"] == ["INBOX", "UNREAD"]
    metadata = client.get(userId="me", id=ref, format="metadata", metadataHeaders=["Subject"]).execute()
    assert metadata["payload"]["headers"] == [{"name": "Subject", "value": "Agenda"}]
