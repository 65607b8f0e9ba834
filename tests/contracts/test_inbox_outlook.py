"""The `outlook` inbox runs the inbox contract against the fake Graph (real msal and requests), once marking
with a category and once moving to a folder; beside it: an expired delta link resyncs without missing or
repeating a reply, faults mid-fetch, and a reply written in another mail client reaching the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from coachd.providers.base import Inbox, ProviderError, Transient
from coachd.providers.family import ProviderRefused
from coachd.providers.microsoft.family import OutlookInboxSection
from coachd.providers.microsoft.mail_inbox import OutlookInbox, OutlookInboxError, outlook_inbox
from tests.contracts.inbox_suite import Deliver, Held, InboxContract, reply
from tests.support.fake_graph.mail import FakeOutlookMail
from tests.support.outlook_fixtures import ORGANIZER, Outlook, TestClock, outlook

DELTA = "/messages/delta"


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def ol(tmp_path: Path, clock: TestClock) -> Iterator[Outlook]:
    # Small pages, some shorter still, so that every delta here spans several.
    with outlook(tmp_path, clock, page_size=3, short_pages=True) as running:
        yield running


@pytest.fixture
def mail(ol: Outlook) -> FakeOutlookMail:
    return ol.mail


def make_inbox(ol: Outlook, state: Path, clock: TestClock, **options: object) -> OutlookInbox:
    return OutlookInbox(ol.client(("Mail.ReadWrite",)), state_dir=state, clock=clock, **options)  # type: ignore[arg-type]


class OutlookContract(InboxContract):
    options: ClassVar[dict[str, object]] = {}

    @pytest.fixture
    def inbox(self, ol: Outlook, tmp_path: Path, clock: TestClock) -> OutlookInbox:
        return make_inbox(ol, tmp_path / "state", clock, **self.options)

    @pytest.fixture
    def deliver(self, mail: FakeOutlookMail) -> Deliver:
        def deliver(raw: bytes) -> None:
            mail.deliver(ORGANIZER, raw)

        return deliver

    @pytest.fixture
    def held(self, mail: FakeOutlookMail) -> Held:
        return lambda: mail.held(ORGANIZER)


class TestOutlookInboxCategorised(OutlookContract):
    options: ClassVar[dict[str, object]] = {}


class TestOutlookInboxMoved(OutlookContract):
    options: ClassVar[dict[str, object]] = {"processed_folder": "Coaching processed"}


def fetched(inbox: Inbox) -> dict[bytes, str]:
    return {m.raw: m.ref for m in inbox.fetch()}


def mark_all(inbox: Inbox) -> None:
    for ref in fetched(inbox).values():
        inbox.mark_processed(ref)


# --- marking ------------------------------------------------------------------------------------------------


def test_the_category_is_added_beside_a_persons_own_and_the_message_stays_in_the_inbox(ol, mail, tmp_path, clock):
    inbox = make_inbox(ol, tmp_path, clock)
    mail.deliver(ORGANIZER, reply(1))
    (message,) = inbox.fetch()
    mail.in_folder(ORGANIZER, "inbox")[0].categories = ["Red category"]  # a person tagged it meanwhile
    inbox.mark_processed(message.ref)
    make_inbox(ol, tmp_path, clock).mark_processed(message.ref)  # another process: nothing more
    (kept,) = mail.in_folder(ORGANIZER, "inbox")
    assert kept.categories == ["Red category", "coachd processed"]
    assert len(ol.fake.requests("/messages/", "PATCH")) == 1


def test_processed_mail_moved_to_a_folder_made_once(ol, mail, tmp_path, clock):
    inbox = make_inbox(ol, tmp_path, clock, processed_folder="Coaching processed")
    for n in (1, 2):
        mail.deliver(ORGANIZER, reply(n))
    mark_all(inbox)
    mail.deliver(ORGANIZER, reply(3))
    mark_all(make_inbox(ol, tmp_path / "other", clock, processed_folder="Coaching processed"))
    assert mail.held(ORGANIZER, "inbox") == []
    folder = [f for f in mail.mailbox(ORGANIZER).folders.values() if f.name == "Coaching processed"]
    assert len(folder) == 1 and len(ol.fake.requests("/mailFolders", "POST")) == 1
    assert sorted(mail.held(ORGANIZER, folder[0].id)) == sorted([reply(1), reply(2), reply(3)])


def test_a_move_whose_answer_was_lost_is_taken_as_done_on_the_next_try(ol, mail, tmp_path, clock):
    inbox = make_inbox(ol, tmp_path, clock, processed_folder="archive")
    mail.deliver(ORGANIZER, reply(1))
    (message,) = inbox.fetch()
    ol.fake.faults.fail_next("lost", path_contains="/move")
    inbox.mark_processed(message.ref)  # the client's retry finds the message gone: moved by the lost try
    assert mail.held(ORGANIZER, "inbox") == [] and mail.held(ORGANIZER, "archive") == [reply(1)]
    assert list(inbox.fetch()) == []
    with pytest.raises(KeyError):
        inbox.mark_processed("AAMkM99999999AAA=")


def test_the_processed_folder_must_differ_from_the_one_read(ol, tmp_path):
    section = ol.section(OutlookInboxSection, ("Mail.ReadWrite",), folder="Inbox", processed_folder="inbox")
    with pytest.raises(ProviderRefused, match="processed_folder"):
        outlook_inbox(tmp_path, section=section, organizer_email=ORGANIZER)


# --- delta that expires ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"processed_folder": "archive"}], ids=["category", "moved"])
def test_an_expired_delta_link_resyncs_missing_none_and_repeating_none(ol, mail, tmp_path, clock, options):
    inbox = make_inbox(ol, tmp_path, clock, **options)
    for n in (1, 2):
        mail.deliver(ORGANIZER, reply(n))
    refs = fetched(inbox)
    inbox.mark_processed(refs[reply(1)])  # the daemon stops before it marks reply 2
    clock.advance(timedelta(days=3))
    for n in (3, 4):
        mail.deliver(ORGANIZER, reply(n))
    mail.expire_delta(ORGANIZER)  # Graph no longer knows the stored delta link
    restarted = make_inbox(ol, tmp_path, clock, **options)
    assert [m.raw for m in restarted.fetch()] == [reply(2), reply(3), reply(4)]
    assert restarted.resyncs == 1
    assert ol.fake.requests(DELTA)[-1].status == 200
    assert [e.status for e in ol.fake.requests(DELTA)].count(410) == 1
    mark_all(restarted)
    mail.deliver(ORGANIZER, reply(5))
    assert [m.raw for m in restarted.fetch()] == [reply(5)]  # the new delta link works: no second resync
    assert restarted.resyncs == 1


def test_the_resync_reads_from_a_day_before_the_last_reply_marked(ol, mail, tmp_path, clock):
    mail.deliver(ORGANIZER, reply(1), at=clock.now - timedelta(days=5))  # old mail nobody asked coachd to read
    mail.deliver(ORGANIZER, reply(2))
    inbox = make_inbox(ol, tmp_path, clock, first_lookback=timedelta(days=1))
    mark_all(inbox)
    clock.advance(timedelta(days=3))
    mail.expire_delta(ORGANIZER)
    mail.deliver(ORGANIZER, reply(3))
    assert [m.raw for m in inbox.fetch()] == [reply(3)]
    first = [e for e in ol.fake.requests(DELTA) if "$filter" in e.query][-1]
    since = (clock.now - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first.query["$filter"] == [f"receivedDateTime ge {since}"]
    fresh = make_inbox(ol, tmp_path / "elsewhere", clock, first_lookback=timedelta(days=30))
    assert [m.raw for m in fresh.fetch()] == [reply(1), reply(3)]  # reply 2 carries the category


def test_losing_the_state_file_costs_a_resync_not_a_reply_handled_twice(ol, mail, tmp_path, clock):
    inbox = make_inbox(ol, tmp_path, clock)
    for n in range(1, 4):
        mail.deliver(ORGANIZER, reply(n))
    refs = fetched(inbox)
    inbox.mark_processed(refs[reply(1)])
    inbox.mark_processed(refs[reply(3)])
    inbox.state.path.unlink()
    assert [m.raw for m in make_inbox(ol, tmp_path, clock).fetch()] == [reply(2)]


def test_a_reply_categorised_or_removed_elsewhere_leaves_the_pending_list(ol, mail, tmp_path, clock):
    inbox = make_inbox(ol, tmp_path, clock)
    for n in (1, 2, 3):
        mail.deliver(ORGANIZER, reply(n))
    refs = fetched(inbox)
    other = make_inbox(ol, tmp_path / "other", clock)
    other.mark_processed(refs[reply(1)])  # another replica handled it
    box = mail.mailbox(ORGANIZER)
    moved_away = box.messages[refs[reply(2)]]
    moved_away.folder = box.folder("deleteditems").id  # a person put it in Deleted Items
    mail._changed(box, moved_away.id, box.folder("inbox").id)
    assert [m.raw for m in inbox.fetch()] == [reply(3)]
    assert set(inbox.state.read()["pending"]) == {refs[reply(3)]}


# --- faults ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["429", "503", "504", "drop", "lost"])
def test_a_passing_fault_mid_fetch_is_retried_after_retry_after(ol, mail, tmp_path, clock, fault):
    ol.fake.faults.retry_after_seconds = 7
    inbox = make_inbox(ol, tmp_path, clock)
    mail.deliver(ORGANIZER, reply(1))
    mark_all(inbox)
    mail.deliver(ORGANIZER, reply(2))
    ol.fake.faults.fail_next(fault, path_contains=DELTA)
    ol.fake.faults.fail_next(fault, path_contains="/$value")
    assert [m.raw for m in inbox.fetch()] == [reply(2)]
    if fault in ("429", "503", "504"):
        assert len(ol.sleeps) == 2 and all(s >= 7 for s in ol.sleeps)


def test_a_fetch_that_fails_halfway_loses_nothing(ol, mail, tmp_path, clock):
    inbox = make_inbox(ol, tmp_path, clock)
    mail.deliver(ORGANIZER, reply(1))
    mark_all(inbox)
    for n in (2, 3, 4):
        mail.deliver(ORGANIZER, reply(n))
    got = []
    with pytest.raises(Transient):
        for message in inbox.fetch():
            got.append(message.raw)
            inbox.mark_processed(message.ref)
            ol.fake.faults.fail_next("503", 100, path_contains="/$value")
    ol.fake.faults.scripted[-1].times = 0
    assert got == [reply(2)]
    assert [m.raw for m in make_inbox(ol, tmp_path, clock).fetch()] == [reply(3), reply(4)]


def test_a_folder_that_does_not_exist_is_a_permanent_error(ol, tmp_path, clock):
    with pytest.raises(OutlookInboxError, match="no folder"):
        list(make_inbox(ol, tmp_path, clock, folder="AQMkNoSuchFolder").fetch())


def test_under_random_faults_and_expiring_delta_every_reply_is_read_and_none_after_it_was_marked(
        ol, mail, tmp_path, clock):
    ol.fake.faults.rate = 0.3  # 429, 5xx, dropped connections, lost answers
    inbox = make_inbox(ol, tmp_path, clock)
    delivered: list[bytes] = []
    read: set[bytes] = set()
    marked: set[bytes] = set()
    read_after_marking: list[bytes] = []
    for round in range(24):
        for _ in range(round % 3):
            delivered.append(reply(len(delivered) + 1))
            mail.deliver(ORGANIZER, delivered[-1])
        if round % 8 == 7:
            mail.expire_delta(ORGANIZER)
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
    ol.fake.faults.rate = 0.0
    for message in inbox.fetch():
        assert message.raw not in marked
        read.add(message.raw)
        inbox.mark_processed(message.ref)
    assert len(delivered) > 15 and inbox.resyncs >= 1
    assert read_after_marking == []
    assert read == set(delivered)
    assert all(m.categories == ["coachd processed"] for m in mail.in_folder(ORGANIZER, "inbox"))


# --- the pipeline -----------------------------------------------------------------------------------------------


def test_the_factory_reads_the_organizers_inbox_with_mail_readwrite(ol, mail, tmp_path):
    section = ol.section(OutlookInboxSection, ("Mail.ReadWrite",))
    inbox = outlook_inbox(tmp_path, section=section, organizer_email=ORGANIZER)
    mail.deliver(ORGANIZER, reply(1))
    assert [m.raw for m in inbox.fetch()] == [reply(1)]
    denied = outlook_inbox(tmp_path / "other", section=ol.section(OutlookInboxSection, ("Mail.Send",)),
                           organizer_email=ORGANIZER)
    with pytest.raises(ProviderError, match="403"):
        list(denied.fetch())
