"""The `gmail` sender runs the sender contract against the fake Gmail; beside it: a send whose answer is
lost never becomes a second email, throttling and 5xx, threads per series and person, lost credentials."""

from __future__ import annotations

import email.policy
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from coachd.providers.base import CredentialsExpired, PermanentSendError, Throttled, TransientSendError
from coachd.providers.google.gmail_send import GmailSender
from coachd.providers.google.gmail_service import GMAIL_READONLY, GMAIL_SEND
from tests.contracts.sender_suite import Outage, SenderContract, Sent, invitation, stored
from tests.support.fake_google import ApiError, FakeGoogle
from tests.support.fake_google.gmail import FakeGmail
from tests.support.gmail_fixtures import (
    ORGANIZER,
    Sleeps,
    TestClock,
    failing,
    fake_gmail,
    organizer_service,
    quick_policy,
)

SEND_PATH = "/messages/send"


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


def make_sender(fake: FakeGoogle, state: Path, clock: TestClock,
                scopes: tuple[str, ...] = (GMAIL_SEND, GMAIL_READONLY)) -> GmailSender:
    return GmailSender(organizer_service(fake, scopes), state_dir=state, policy=quick_policy(Sleeps()), clock=clock)


class TestGmailSender(SenderContract):
    # Gmail itself cannot tell a second send; the sender's record of the keys it sent can, and Sent
    # (searched by Message-ID) says what arrived.
    idempotent_send = True
    knows_what_was_sent = True

    @pytest.fixture
    def sender(self, fake: FakeGoogle, tmp_path: Path, clock: TestClock) -> GmailSender:
        return make_sender(fake, tmp_path / "state", clock)

    @pytest.fixture
    def sent(self, gmail: FakeGmail) -> Sent:
        return lambda: gmail.sent_by(ORGANIZER)

    @pytest.fixture
    def outage(self, fake: FakeGoogle) -> Outage:
        # Throttling: Google refused before acting, so the next try goes out at once.
        return lambda: failing(fake, "429", SEND_PATH)

    @pytest.fixture
    def refused(self) -> bytes:
        message = invitation()
        del message["To"]
        return stored(message)  # Gmail: 400 "Recipient address required"


def message(n: int, to: str = "ana@northwind.example", subject: str = "Agenda: Americas Enterprise",
            root: str | None = "<series-root@northwind.example>") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Coaching Office <{ORGANIZER}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<m{n}@northwind.example>"
    if root:
        msg["In-Reply-To"] = root
        msg["References"] = root
    msg.set_content(f"Message {n}\n")
    return msg.as_bytes(policy=email.policy.SMTP)


# --- an answer lost: Gmail may have sent it, and it is never sent twice ------------------------------


def test_a_send_whose_answer_is_lost_is_found_in_sent_and_not_sent_again(fake, gmail, tmp_path, clock):
    sender = make_sender(fake, tmp_path, clock)
    gmail.search_delay = timedelta(minutes=1)  # Gmail's index trails: a search right away finds nothing
    fake.faults.fail_next("lost", path_contains=SEND_PATH)
    with pytest.raises(TransientSendError):
        sender.send_raw(message(1), "k1")
    assert gmail.sent_by(ORGANIZER) == [message(1)]
    # httplib2 would have sent the POST again on the closed connection; the sender's client does not.
    assert len(fake.requests(SEND_PATH, "POST")) == 1
    with pytest.raises(TransientSendError, match="cannot say yet"):
        sender.send_raw(message(1), "k1")  # too soon to trust "not found"
    clock.advance(timedelta(minutes=2))
    sender.send_raw(message(1), "k1")  # Sent has it now: done, not sent again
    assert gmail.sent_by(ORGANIZER) == [message(1)]
    assert len(fake.requests(SEND_PATH, "POST")) == 1
    assert sender.was_sent("<m1@northwind.example>", "k1") is True


def test_a_send_that_times_out_is_a_doubt_not_a_failure(fake, gmail, tmp_path, clock):
    fake.faults.stall_seconds = 1.0  # longer than the client's timeout: no answer in time
    sender = GmailSender(organizer_service(fake, (GMAIL_SEND, GMAIL_READONLY), timeout=0.3), state_dir=tmp_path,
                         policy=quick_policy(Sleeps()), clock=clock)
    fake.faults.fail_next("stall", path_contains=SEND_PATH)
    with pytest.raises(TransientSendError, match="in time"):
        sender.send_raw(message(1), "k1")
    assert list(sender.state.read()["attempts"]) == ["k1"]  # the next try asks Sent first


@pytest.mark.parametrize("fault", ["drop", "503", "500"])
def test_a_send_that_may_have_failed_goes_out_once_gmail_can_say_it_did_not_arrive(fake, gmail, tmp_path, clock,
                                                                                      fault):
    sender = make_sender(fake, tmp_path, clock)
    fake.faults.fail_next(fault, path_contains=SEND_PATH)
    with pytest.raises(TransientSendError):
        sender.send_raw(message(1), "k1")
    assert gmail.sent_by(ORGANIZER) == []
    with pytest.raises(TransientSendError):
        sender.send_raw(message(1), "k1")  # Gmail's search may not show it yet: not sent blindly
    assert gmail.sent_by(ORGANIZER) == []
    clock.advance(timedelta(minutes=6))
    sender.send_raw(message(1), "k1")
    sender.send_raw(message(1), "k1")
    assert gmail.sent_by(ORGANIZER) == [message(1)]


def test_on_a_clock_that_stands_still_three_lookups_in_vain_let_the_send_go(fake, gmail, tmp_path, clock):
    """`coachd simulate` and the tests' virtual clocks: the settle time may never pass between tries."""
    sender = make_sender(fake, tmp_path, clock)
    fake.faults.fail_next("drop", path_contains=SEND_PATH)
    with pytest.raises(TransientSendError):
        sender.send_raw(message(1), "k1")
    for _ in range(2):
        with pytest.raises(TransientSendError, match="cannot say yet"):
            sender.send_raw(message(1), "k1")
    sender.send_raw(message(1), "k1")
    assert gmail.sent_by(ORGANIZER) == [message(1)]
    assert len(fake.requests("/messages", "GET")) == 3


def test_after_a_crash_mid_send_a_new_sender_process_asks_gmail(fake, gmail, tmp_path, clock):
    """The outbox's own crash recovery: was_sent from a fresh process, with the state the dead one left."""
    first = make_sender(fake, tmp_path, clock)
    fake.faults.fail_next("lost", path_contains=SEND_PATH)
    with pytest.raises(TransientSendError):
        first.send_raw(message(1), "k1")
    restarted = make_sender(fake, tmp_path, clock)
    assert restarted.was_sent("<m1@northwind.example>", "k1") is True
    # One that never left: not in Sent, and its try is old enough to trust that.
    fake.faults.fail_next("drop", path_contains=SEND_PATH)
    with pytest.raises(TransientSendError):
        restarted.send_raw(message(2), "k2")
    assert restarted.was_sent("<m2@northwind.example>", "k2") is None
    clock.advance(timedelta(minutes=6))
    assert restarted.was_sent("<m2@northwind.example>", "k2") is False


def test_without_a_read_scope_the_sender_cannot_tell_and_says_so(fake, gmail, tmp_path, clock):
    sender = make_sender(fake, tmp_path, clock, scopes=(GMAIL_SEND,))
    assert sender.was_sent("<m1@northwind.example>", "k1") is None
    fake.faults.fail_next("lost", path_contains=SEND_PATH)
    with pytest.raises(TransientSendError):
        sender.send_raw(message(1), "k1")
    # The honest cost of gmail.send alone: the retry goes out again, logged as a possible duplicate.
    sender.send_raw(message(1), "k1")
    assert gmail.sent_by(ORGANIZER) == [message(1), message(1)]


# --- throttling and refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["429", "403-rate", "403-user-rate"])
def test_throttling_is_transient_with_its_retry_after_and_the_retry_goes_at_once(fake, gmail, tmp_path, clock,
                                                                                   fault):
    sender = make_sender(fake, tmp_path, clock)
    fake.faults.fail_next(fault, path_contains=SEND_PATH)
    with pytest.raises(TransientSendError) as raised:
        sender.send_raw(message(1), "k1")
    assert isinstance(raised.value, Throttled)
    if fault == "429":
        assert raised.value.retry_after == timedelta(seconds=1)
    sender.send_raw(message(1), "k1")  # Google refused before acting: no need to ask Sent
    assert gmail.sent_by(ORGANIZER) == [message(1)]
    assert fake.requests("/messages", "GET") == []


def test_the_daily_quota_is_waited_out_not_retried_in_a_loop(fake, gmail, tmp_path, clock):
    sender = make_sender(fake, tmp_path, clock)
    fake.faults.fail_next("403-quota", path_contains=SEND_PATH)
    with pytest.raises(Throttled) as raised:
        sender.send_raw(message(1), "k1")
    assert raised.value.retry_after is not None and raised.value.retry_after > timedelta(minutes=1)
    assert len(fake.requests(SEND_PATH)) == 1


def test_revoked_credentials_hold_the_mail_for_a_person_to_fix(fake, gmail, tmp_path, clock):
    sender = make_sender(fake, tmp_path, clock)
    fake.revoke_access_tokens(ORGANIZER)
    with pytest.raises(CredentialsExpired):
        sender.send_raw(message(1), "k1")
    assert gmail.sent_by(ORGANIZER) == []


def test_a_token_without_the_send_scope_is_a_credentials_problem_not_the_messages(fake, gmail, tmp_path, clock):
    sender = make_sender(fake, tmp_path, clock, scopes=(GMAIL_READONLY,))
    with pytest.raises(CredentialsExpired, match="insufficient"):
        sender.send_raw(message(1), "k1")


def test_an_invalid_address_is_permanent(fake, gmail, tmp_path, clock):
    sender = make_sender(fake, tmp_path, clock)
    with pytest.raises(PermanentSendError, match="Invalid To header"):
        sender.send_raw(message(1, to="not-an-address"), "k1")


# --- threads --------------------------------------------------------------------------------------------


def test_mail_of_one_series_to_one_person_keeps_one_thread_per_subject(fake, gmail, tmp_path, clock):
    sender = make_sender(fake, tmp_path, clock)
    feedback = "How was Americas Enterprise? Two minutes of feedback"
    sender.send_raw(message(1, subject=feedback), "k1")
    sender.send_raw(message(2, subject=feedback), "k2")  # the next session's request: same thread
    sender.send_raw(message(3, subject=feedback, to="ben@northwind.example"), "k3")  # another person: his own
    sender.send_raw(message(4, subject=feedback, root="<other-series@northwind.example>"), "k4")  # another series
    sender.send_raw(message(5, subject="Agenda: Americas Enterprise, Jan 18"), "k5")  # Gmail: another subject
    sender.send_raw(message(6, subject=f"Re: {feedback}"), "k6")  # Re: is the same subject to Gmail
    threads = sorted(sorted(int(raw.split(b"Message ")[1][:1]) for raw in raws)
                     for raws in gmail.threads_of(ORGANIZER).values())
    assert threads == [[1, 2, 6], [3], [4], [5]]


def test_threads_survive_a_restart_and_a_thread_deleted_in_gmail_starts_anew(fake, gmail, tmp_path, clock):
    make_sender(fake, tmp_path, clock).send_raw(message(1), "k1")
    restarted = make_sender(fake, tmp_path, clock)
    restarted.send_raw(message(2), "k2")
    assert [len(raws) for raws in gmail.threads_of(ORGANIZER).values()] == [2]
    box = gmail.mailbox(ORGANIZER)
    with fake.lock:  # a person deletes the thread for good
        for tid, ids in list(box.threads.items()):
            for mid in ids:
                del box.messages[mid]
            del box.threads[tid]
    restarted.send_raw(message(3), "k3")
    assert gmail.sent_by(ORGANIZER)[-1] == message(3)
    assert [len(raws) for raws in gmail.threads_of(ORGANIZER).values()] == [1]
    assert len(fake.requests(SEND_PATH)) == 4  # the 404 for the gone thread, then the send


def test_the_account_may_be_named_by_its_address_as_the_factory_does(fake, gmail, tmp_path, clock):
    sender = GmailSender(organizer_service(fake, (GMAIL_SEND, GMAIL_READONLY)), state_dir=tmp_path, user=ORGANIZER,
                         policy=quick_policy(Sleeps()), clock=clock)
    sender.send_raw(message(1), "k1")
    assert sender.was_sent("<m1@northwind.example>", "other-key") is True  # found by Message-ID in Sent
    assert gmail.sent_by(ORGANIZER) == [message(1)]


def test_the_send_after_a_gone_thread_is_a_doubt_too_when_its_answer_is_lost(fake, gmail, tmp_path, clock):
    sender = make_sender(fake, tmp_path, clock)
    sender.send_raw(message(1), "k1")
    box = gmail.mailbox(ORGANIZER)

    def thread_gone(new: object, requested: str | None) -> str | None:
        if requested is not None:
            fake.faults.fail_next("lost", path_contains=SEND_PATH)  # for the send without a thread, next
            raise ApiError(404, "notFound", "Requested entity was not found.")
        return None

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(box, "thread_for", thread_gone)
        with pytest.raises(TransientSendError):
            sender.send_raw(message(2), "k2")
    sender.send_raw(message(2), "k2")  # found in Sent: not sent again
    assert gmail.sent_by(ORGANIZER) == [message(1), message(2)]


@pytest.mark.parametrize("read_sent", [False, True])
def test_the_factory_sends_as_the_organizer_with_gmail_send(fake, gmail, tmp_path, clock, monkeypatch, read_sent):
    import sys
    import types

    import google.oauth2.credentials

    from coachd.providers.google.gmail_send import gmail_sender

    asked: list[tuple[object, ...]] = []

    def google_credentials(auth, scopes, store, *, subject=None, role=None):  # type: ignore[no-untyped-def]
        asked.append((tuple(scopes), subject, role))
        return google.oauth2.credentials.Credentials(token=fake.issue_access_token(subject, scopes))

    monkeypatch.setitem(sys.modules, "coachd.providers.google.auth",
                        types.SimpleNamespace(google_credentials=google_credentials))
    auth = types.SimpleNamespace(acting_for=lambda organizer: organizer)
    sender = gmail_sender(tmp_path, auth=auth, api_root=fake.base_url, organizer_email=ORGANIZER,
                          read_sent=read_sent)
    sender.send_raw(message(1), "k1")
    assert gmail.sent_by(ORGANIZER) == [message(1)]
    scopes = (GMAIL_SEND, GMAIL_READONLY) if read_sent else (GMAIL_SEND,)
    assert asked == [(scopes, ORGANIZER, "send")]
    assert sender.was_sent("<m1@northwind.example>", "elsewhere") is (True if read_sent else None)
