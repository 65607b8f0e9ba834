"""The fake Google core as the real client library sees it: bearer tokens, Google's error shapes, faults."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from importlib import resources

import google.oauth2.credentials
import httplib2
import pytest
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from tests.support.fake_google import FakeGoogle, Response

SCOPE = "https://www.googleapis.com/auth/calendar.events"


def calendar_client(fake: FakeGoogle, token: str):  # type: ignore[no-untyped-def]
    document = json.loads(resources.files("googleapiclient.discovery_cache.documents")
                          .joinpath("calendar.v3.json").read_text())
    document["rootUrl"] = fake.base_url + "/"
    credentials = google.oauth2.credentials.Credentials(token=token)
    import google_auth_httplib2
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=1))
    return build_from_document(document, http=http)


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    with FakeGoogle() as running:
        running.route("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)",
                      lambda request: Response(body={"kind": "calendar#calendar", "id": request.group("calendar"),
                                                     "timeZone": "UTC"}), scopes=[SCOPE])
        yield running


def test_a_live_token_with_the_scope_is_answered(fake: FakeGoogle) -> None:
    token = fake.issue_access_token("organizer@northwind.example", [SCOPE])
    answer = calendar_client(fake, token).calendars().get(calendarId="primary").execute()
    assert answer["id"] == "primary"
    assert [entry.subject for entry in fake.requests("/calendar/v3/")] == ["organizer@northwind.example"]


def status_and_reason(fake: FakeGoogle, token: str) -> tuple[int, str]:
    # Plain HTTP: the client library would answer a 401 by refreshing, which hides the fake's answer.
    request = urllib.request.Request(f"{fake.base_url}/calendar/v3/calendars/primary",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["error"]["errors"][0]["reason"]


def test_an_unknown_or_expired_token_is_401_and_a_missing_scope_403(fake: FakeGoogle) -> None:
    assert status_and_reason(fake, "ya29.nothing") == (401, "authError")
    expired = fake.issue_access_token("organizer@northwind.example", [SCOPE], lifetime=timedelta(seconds=-1))
    assert status_and_reason(fake, expired) == (401, "authError")
    narrow = fake.issue_access_token("organizer@northwind.example", ["https://www.googleapis.com/auth/gmail.send"])
    assert status_and_reason(fake, narrow) == (403, "insufficientPermissions")
    fake.revoke_access_tokens("organizer@northwind.example")
    assert status_and_reason(fake, narrow) == (401, "authError")


def test_scripted_faults_answer_in_googles_shapes_then_stop(fake: FakeGoogle) -> None:
    token = fake.issue_access_token("organizer@northwind.example", [SCOPE])
    client = calendar_client(fake, token)
    fake.faults.fail_next("429")
    fake.faults.fail_next("403-rate")
    with pytest.raises(HttpError) as throttled:
        client.calendars().get(calendarId="primary").execute()
    assert throttled.value.status_code == 429 and throttled.value.resp["retry-after"] == "1"
    with pytest.raises(HttpError) as rate:
        client.calendars().get(calendarId="primary").execute()
    assert rate.value.error_details[0]["reason"] == "rateLimitExceeded"
    assert client.calendars().get(calendarId="primary").execute()["id"] == "primary"
    assert [entry.fault for entry in fake.requests()] == ["429", "403-rate", None]


def test_a_lost_answer_is_carried_out_and_httplib2_sends_the_post_again(fake: FakeGoogle) -> None:
    # What makes a client-chosen event id necessary: httplib2 repeats a request whose connection
    # closed before the answer, POSTs included, so the server sees the insert twice.
    done: list[str] = []
    fake.route("POST", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events",
               lambda request: done.append(request.json()["id"]) or Response(body={}), scopes=[SCOPE])
    token = fake.issue_access_token("organizer@northwind.example", [SCOPE])
    fake.faults.fail_next("lost")
    calendar_client(fake, token).events().insert(calendarId="primary", body={"id": "abc12345"}).execute()
    assert done == ["abc12345", "abc12345"]
    assert [entry.fault for entry in fake.requests()] == ["lost", None]
