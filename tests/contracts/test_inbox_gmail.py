"""The `gmail` inbox runs the inbox contract against the fake Gmail; beside it: an expired history id
rescans without missing or repeating a reply, the processed label, faults mid-fetch, other labels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from coachd.providers.base import Transient
from coachd.providers.google.gmail_inbox import GmailInbox, GmailInboxError
from coachd.providers.google.gmail_service import GMAIL_MODIFY
from tests.contracts.inbox_suite import Deliver, Held, InboxContract, reply
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.gmail import FakeGmail
from tests.support.gmail_fixtures import ORGANIZER, Sleeps, TestClock, fake_gmail, organizer_service, quick_policy


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def google(clock: TestClock) -> Iterator[tuple[FakeGoogle, FakeGmail]]:
    with fake_gmail(clock) as running:
        yield running


@pytest.fixture
def fake(google: tuple[FakeGoogle, FakeGmail]) -> FakeGoogle:
    return google[0]


@pytest.fixture
def gmail(google: tuple[FakeGoogle, FakeGmail]) -> FakeGmail:
    return google[1]


def make_inbox(fake: FakeGoogle, state: Path, clock: TestClock, **options: object) -> GmailInbox:
    return GmailInbox(organizer_service(fake, (GMAIL_MODIFY,)), state_dir=state, policy=quick_policy(Sleeps()),
                      clock=clock, **options)  # type: ignore[arg-type]


class TestGmailInbox(InboxContract):
    @pytest.fixture
    def inbox(self, fake: FakeGoogle, tmp_path: Path, clock: TestClock) -> GmailInbox:
        return make_inbox(fake, tmp_path / "state", clock)

    @pytest.fixture
    def deliver(self, gmail: FakeGmail) -> Deliver:
        def deliver(raw: bytes) -> None:
            gmail.deliver(ORGANIZER, raw)

        return deliver

    @pytest.fixture
    def held(self, gmail: FakeGmail) -> Held:
        return lambda: gmail.held(ORGANIZER)


def fetched(inbox: GmailInbox) -> dict[bytes, str]:
    return {m.raw: m.ref for m in inbox.fetch()}


# --- history that expires ---------------------------------------------------------------------------------


def test_an_expired_history_id_rescans_since_the_last_reply_missing_none_and_repeating_none(fake, gmail, tmp_path,
                                                                                            clock):
    inbox = make_inbox(fake, tmp_path, clock)
    gmail.deliver(ORGANIZER, reply(1))
    gmail.deliver(ORGANIZER, reply(2))
    refs = fetched(inbox)
    inbox.mark_processed(refs[reply(1)])  # the daemon stops before it marks reply 2
    clock.advance(timedelta(days=3))
    gmail.deliver(ORGANIZER, reply(3))
    gmail.deliver(ORGANIZER, reply(4))
    gmail.expire_history(ORGANIZER)  # days later, Gmail no longer knows the stored history id
    restarted = make_inbox(fake, tmp_path, clock)
    assert [m.raw for m in restarted.fetch()] == [reply(2), reply(3), reply(4)]
    assert restarted.rescans == 1
    for ref in fetched(restarted).values():
        restarted.mark_processed(ref)
    gmail.deliver(ORGANIZER, reply(5))
    assert [m.raw for m in restarted.fetch()] == [reply(5)]  # history answers again: no second rescan
    assert restarted.rescans == 1


def test_the_rescan_is_bounded_by_the_last_reply_known(fake, gmail, tmp_path, clock):
    gmail.deliver(ORGANIZER, reply(1), at=clock.now - timedelta(days=5))  # old mail nobody asked coachd to read
    gmail.deliver(ORGANIZER, reply(2))
    inbox = make_inbox(fake, tmp_path, clock, first_lookback=timedelta(days=1))
    (first,) = inbox.fetch()
    inbox.mark_processed(first.ref)
    clock.advance(timedelta(days=3))
    gmail.expire_history(ORGANIZER)
    gmail.deliver(ORGANIZER, reply(3))
    # The rescan starts a day before the last reply marked: reply 1 is out of its reach.
    assert [m.raw for m in inbox.fetch()] == [reply(3)]
    query = [e.query["q"][0] for e in fake.requests("/messages", "GET") if "q" in e.query][-1]
    since = int((clock.now - timedelta(days=4)).timestamp())
    assert query == f"after:{since} -label:coachd-processed"
    # Without state, the first-run lookback is the bound.
    fresh = make_inbox(fake, tmp_path / "elsewhere", clock, first_lookback=timedelta(days=30))
    assert [m.raw for m in fresh.fetch()] == [reply(1), reply(3)]


def test_losing_the_state_file_costs_a_rescan_not_a_reply_handled_twice(fake, gmail, tmp_path, clock):
    inbox = make_inbox(fake, tmp_path, clock)
    for n in range(1, 4):
        gmail.deliver(ORGANIZER, reply(n))
    refs = fetched(inbox)
    inbox.mark_processed(refs[reply(1)])
    inbox.mark_processed(refs[reply(3)])
    inbox.state.path.unlink()
    assert [m.raw for m in make_inbox(fake, tmp_path, clock).fetch()] == [reply(2)]


# --- the processed label ------------------------------------------------------------------------------


def test_the_processed_label_is_created_once_and_marks_the_message_read(fake, gmail, tmp_path, clock):
    inbox = make_inbox(fake, tmp_path, clock)
    gmail.deliver(ORGANIZER, reply(1))
    (message,) = inbox.fetch()
    inbox.mark_processed(message.ref)
    make_inbox(fake, tmp_path, clock).mark_processed(message.ref)  # another process: finds the label
    box = gmail.mailbox(ORGANIZER)
    (label,) = [label for label in box.labels.values() if label.type == "user"]
    assert label.name == "coachd/processed"
    assert box.messages[message.ref].labels == {"INBOX", label.id}
    assert len(fake.requests("/labels", "POST")) == 1


def test_a_label_a_person_made_under_another_case_is_used_not_duplicated(fake, gmail, tmp_path, clock):
    service = organizer_service(fake, (GMAIL_MODIFY,))
    service.users().labels().create(userId="me", body={"name": "Coachd/Processed"}).execute()
    with pytest.raises(Exception, match="409"):
        service.users().labels().create(userId="me", body={"name": "coachd/processed"}).execute()
    inbox = make_inbox(fake, tmp_path, clock)
    gmail.deliver(ORGANIZER, reply(1))
    (message,) = inbox.fetch()
    inbox.mark_processed(message.ref)
    assert len([label for label in gmail.mailbox(ORGANIZER).labels.values() if label.type == "user"]) == 1


def test_replies_under_another_label(fake, gmail, tmp_path, clock):
    service = organizer_service(fake, (GMAIL_MODIFY,))
    coaching = service.users().labels().create(userId="me", body={"name": "Coaching"}).execute()["id"]
    gmail.deliver(ORGANIZER, reply(1), labels=("INBOX",))
    gmail.deliver(ORGANIZER, reply(2), labels=(coaching,))  # a filter put it there, out of the inbox
    inbox = make_inbox(fake, tmp_path, clock, label="Coaching")
    assert [m.raw for m in inbox.fetch()] == [reply(2)]
    gmail.deliver(ORGANIZER, reply(3), labels=(coaching,))
    gmail.deliver(ORGANIZER, reply(4), labels=("INBOX",))
    assert [m.raw for m in inbox.fetch()] == [reply(2), reply(3)]
    with pytest.raises(GmailInboxError, match="no label"):
        list(make_inbox(fake, tmp_path / "other", clock, label="Nowhere").fetch())


# --- faults -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["429", "403-user-rate", "503", "drop"])
def test_a_passing_fault_mid_fetch_is_retried(fake, gmail, tmp_path, clock, fault):
    inbox = make_inbox(fake, tmp_path, clock)
    gmail.deliver(ORGANIZER, reply(1))
    (first,) = inbox.fetch()
    inbox.mark_processed(first.ref)
    gmail.deliver(ORGANIZER, reply(2))
    fake.faults.fail_next(fault, path_contains="/history")
    fake.faults.fail_next(fault, path_contains="/messages/")
    assert [m.raw for m in inbox.fetch()] == [reply(2)]


def test_a_fetch_that_fails_halfway_loses_nothing(fake, gmail, tmp_path, clock):
    inbox = make_inbox(fake, tmp_path, clock)
    gmail.deliver(ORGANIZER, reply(1))
    (first,) = inbox.fetch()
    inbox.mark_processed(first.ref)
    for n in (2, 3, 4):
        gmail.deliver(ORGANIZER, reply(n))
    got = []
    with pytest.raises(Transient):
        for message in inbox.fetch():
            got.append(message.raw)
            inbox.mark_processed(message.ref)
            fake.faults.fail_next("503", 100, path_contains="/messages/", method="GET")
    fake.faults.scripted[-1].times = 0
    assert got == [reply(2)]
    assert [m.raw for m in make_inbox(fake, tmp_path, clock).fetch()] == [reply(3), reply(4)]


def test_the_factory_reads_the_organizers_account_with_gmail_modify(fake, gmail, tmp_path, clock, monkeypatch):
    import sys
    import types

    import google.oauth2.credentials

    from coachd.providers.family import ProviderRefused
    from coachd.providers.google.gmail_inbox import gmail_inbox

    asked: list[tuple[object, ...]] = []

    def google_credentials(auth, scopes, store, *, subject=None, role=None):  # type: ignore[no-untyped-def]
        asked.append((tuple(scopes), subject, role))
        return google.oauth2.credentials.Credentials(token=fake.issue_access_token(subject, scopes))

    monkeypatch.setitem(sys.modules, "coachd.providers.google.auth",
                        types.SimpleNamespace(google_credentials=google_credentials))
    auth = types.SimpleNamespace(acting_for=lambda organizer: organizer)
    inbox = gmail_inbox(tmp_path, auth=auth, api_root=fake.base_url, organizer_email=ORGANIZER)
    gmail.deliver(ORGANIZER, reply(1))
    assert [m.raw for m in inbox.fetch()] == [reply(1)]
    assert asked == [((GMAIL_MODIFY,), ORGANIZER, "receive")]
    with pytest.raises(ProviderRefused, match="processed_label"):
        gmail_inbox(tmp_path, auth=auth, organizer_email=ORGANIZER, folder="Coachd/Processed")


def test_history_kept_for_a_week_expires_while_the_daemon_is_down(fake, gmail, tmp_path, clock):
    gmail.history_lifetime = timedelta(days=7)
    inbox = make_inbox(fake, tmp_path, clock)
    gmail.deliver(ORGANIZER, reply(1))
    for message in inbox.fetch():
        inbox.mark_processed(message.ref)
    clock.advance(timedelta(days=6))
    gmail.deliver(ORGANIZER, reply(2))
    assert [m.raw for m in inbox.fetch()] == [reply(2)] and inbox.rescans == 0  # within the week
    clock.advance(timedelta(days=9))  # down for over a week
    gmail.deliver(ORGANIZER, reply(3))
    assert [m.raw for m in inbox.fetch()] == [reply(2), reply(3)] and inbox.rescans == 1


def test_a_rescan_past_its_limit_reads_the_newest_and_says_so(fake, gmail, tmp_path, clock, caplog):
    for n in range(1, 6):
        gmail.deliver(ORGANIZER, reply(n))
    inbox = make_inbox(fake, tmp_path, clock, rescan_limit=3)
    assert [m.raw for m in inbox.fetch()] == [reply(3), reply(4), reply(5)]
    assert "stopped at 3 messages" in caplog.text


def test_under_random_faults_and_expiring_history_every_reply_is_read_and_none_after_it_was_marked(
        fake, gmail, tmp_path, clock):
    from coachd.providers.base import ProviderError

    fake.faults.rate = 0.3  # 429, 403 rate limits, 5xx, dropped connections, lost answers
    inbox = make_inbox(fake, tmp_path, clock)
    delivered: list[bytes] = []
    read: set[bytes] = set()
    marked: set[bytes] = set()  # marked and told so (a mark whose answer was lost is marked all the same)
    read_after_marking: list[bytes] = []
    for round in range(40):
        for _ in range(round % 3):
            delivered.append(reply(len(delivered) + 1))
            gmail.deliver(ORGANIZER, delivered[-1])
        if round % 13 == 12:
            gmail.expire_history(ORGANIZER)
        clock.advance(timedelta(hours=1))
        try:
            for message in inbox.fetch():
                if message.raw in marked:
                    read_after_marking.append(message.raw)
                read.add(message.raw)
                inbox.mark_processed(message.ref)
                marked.add(message.raw)
        except ProviderError:
            continue  # the job fails this round; the next one goes on
    fake.faults.rate = 0.0
    for message in inbox.fetch():
        assert message.raw not in marked
        read.add(message.raw)
        inbox.mark_processed(message.ref)
    assert len(delivered) > 30 and inbox.rescans >= 1
    assert read_after_marking == []
    assert read == set(delivered)
    assert all(len(m.labels) == 2 for m in gmail.mailbox(ORGANIZER).messages.values())  # INBOX + processed
