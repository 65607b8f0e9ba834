"""The `outlook` sender runs the sender contract against the fake Graph (real msal and requests); beside it:
the MIME goes out base64 as sendMail takes it, the size limit, throttling and 5xx, a send whose answer is
lost never becomes a second email where Sent Items can tell, and refused permissions."""

from __future__ import annotations

import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from coachd.providers.base import CredentialsExpired, PermanentSendError, Throttled, TransientSendError
from coachd.providers.microsoft.mail_send import MAX_REQUEST_BYTES, OutlookSender, outlook_sender
from tests.contracts.sender_suite import Outage, SenderContract, Sent, invitation, stored
from tests.support.fake_graph.mail import FakeOutlookMail
from tests.support.outlook_fixtures import ORGANIZER, Outlook, TestClock, outlook

SEND_PATH = "/sendMail"


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
def ol(tmp_path: Path, clock: TestClock) -> Iterator[Outlook]:
    with outlook(tmp_path, clock) as running:
        yield running


@pytest.fixture
def mail(ol: Outlook) -> FakeOutlookMail:
    return ol.mail


def make_sender(ol: Outlook, state: Path, clock: TestClock, permissions: tuple[str, ...] = ("Mail.Send", "Mail.Read"),
                **options: object) -> OutlookSender:
    return OutlookSender(ol.client(permissions), state_dir=state, clock=clock, **options)  # type: ignore[arg-type]


@contextmanager
def failing(ol: Outlook, kind: str, times: int = 1) -> Iterator[None]:
    ol.fake.faults.fail_next(kind, times, path_contains=SEND_PATH)
    try:
        yield
    finally:
        for fault in ol.fake.faults.scripted:
            fault.times = 0


class TestOutlookSender(SenderContract):
    # Graph's sendMail cannot tell a second send; the sender's record of the keys it sent can, and
    # Sent Items (filtered on internetMessageId) says what went out.
    idempotent_send = True
    knows_what_was_sent = True

    @pytest.fixture
    def sender(self, ol: Outlook, tmp_path: Path, clock: TestClock) -> OutlookSender:
        return make_sender(ol, tmp_path / "state", clock)

    @pytest.fixture
    def sent(self, mail: FakeOutlookMail) -> Sent:
        return lambda: mail.sent_by(ORGANIZER)

    @pytest.fixture
    def outage(self, ol: Outlook) -> Outage:
        # Throttling: Graph refused before acting, so the next try goes out at once.
        return lambda: failing(ol, "429")

    @pytest.fixture
    def refused(self) -> bytes:
        message = invitation()
        del message["To"]
        return stored(message)  # Graph: 400 ErrorInvalidRecipients


def message(n: int, to: str = "ana@northwind.example") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Coaching Office <{ORGANIZER}>"
    msg["To"] = to
    msg["Subject"] = f"Agenda {n}: Americas Enterprise"
    msg["Message-ID"] = f"<m{n}@northwind.example>"
    msg.set_content(f"Agenda {n}\n")
    return msg.as_bytes(policy=email.policy.SMTP)


# --- the request ----------------------------------------------------------------------------------------


def test_the_mime_goes_out_base64_as_text_plain_and_202_is_taken_as_accepted(ol, mail, tmp_path, clock):
    sender = make_sender(ol, tmp_path, clock)
    sender.send_raw(message(1), "k1")
    (request,) = ol.fake.requests(SEND_PATH, "POST")
    assert request.headers["content-type"] == "text/plain" and request.status == 202
    assert mail.sent_by(ORGANIZER) == [message(1)]
    (copy,) = mail.in_folder(ORGANIZER, "sentitems")
    assert copy.internet_message_id == "<m1@northwind.example>" and copy.raw == message(1)


def test_a_message_over_the_request_limit_is_a_permanent_failure_naming_its_size(ol, mail, tmp_path, clock):
    sender = make_sender(ol, tmp_path, clock)
    big = message(1) + b"x" * (MAX_REQUEST_BYTES * 3 // 4 + 10)
    with pytest.raises(PermanentSendError, match=rf"{len(big)} bytes"):
        sender.send_raw(big, "k-big")
    assert ol.fake.requests(SEND_PATH) == []  # refused before it left
    sender.send_raw(message(2), "k2")  # and the next one still goes
    assert mail.sent_by(ORGANIZER) == [message(2)]


def test_the_fake_refuses_a_request_over_the_limit_with_413_and_the_sender_says_so(ol, mail, tmp_path, clock,
                                                                                 monkeypatch):
    from coachd.providers.microsoft import mail_send

    monkeypatch.setattr(mail_send, "MAX_REQUEST_BYTES", MAX_REQUEST_BYTES * 2)  # the sender's own check off
    sender = make_sender(ol, tmp_path, clock)
    big = message(1) + b"x" * (MAX_REQUEST_BYTES * 3 // 4 + 10)
    with pytest.raises(PermanentSendError, match="too large"):
        sender.send_raw(big, "k-big")
    (request,) = ol.fake.requests(SEND_PATH)
    assert request.status == 413 and mail.sent_by(ORGANIZER) == []
    # Refused before anything went out: no doubt is left behind for the next try.
    assert "k-big" not in sender.state.read().get("attempts", {})


def test_mail_to_a_mailbox_of_the_tenant_lands_in_its_inbox_and_is_counted_per_recipient(ol, mail, tmp_path,
                                                                                        clock):
    sender = make_sender(ol, tmp_path, clock)
    sender.send_raw(message(1, to="newcomer@northwind.example, ben@elsewhere.example"), "k1")
    sender.send_raw(message(2, to="newcomer@northwind.example"), "k2")
    assert mail.received_by == {"newcomer@northwind.example": 2, "ben@elsewhere.example": 1}
    ol.ms.identity.add_user(ol.ms.tenant, "newcomer@northwind.example")
    sender.send_raw(message(3, to="newcomer+coaching@northwind.example"), "k3")
    assert mail.held("newcomer@northwind.example", "inbox") == [message(3, to="newcomer+coaching@northwind.example")]


# --- faults -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["503", "504", "500", "lost"])
def test_a_send_whose_outcome_is_unknown_is_looked_for_in_sent_items_before_it_goes_again(ol, mail, tmp_path,
                                                                                          clock, fault):
    sender = make_sender(ol, tmp_path, clock)
    ol.fake.faults.fail_next(fault, path_contains=SEND_PATH)
    with pytest.raises(TransientSendError):
        sender.send_raw(message(1), "k1")
    carried_out = fault == "lost"  # the fake carried it out, then closed; 5xx did nothing
    assert mail.sent_by(ORGANIZER) == ([message(1)] if carried_out else [])
    if not carried_out:
        # Sent Items says nothing yet; it is believed only once Exchange had time to file the copy.
        with pytest.raises(TransientSendError, match="cannot say yet"):
            sender.send_raw(message(1), "k1")
        clock.advance(timedelta(minutes=6))
    sender.send_raw(message(1), "k1")
    sender.send_raw(message(1), "k1")
    assert mail.sent_by(ORGANIZER) == [message(1)]


def test_throttling_is_a_transient_failure_carrying_retry_after_and_the_retry_goes_at_once(ol, mail, tmp_path,
                                                                                          clock):
    ol.fake.faults.retry_after_seconds = 42
    sender = make_sender(ol, tmp_path, clock)
    ol.fake.faults.fail_next("429", path_contains=SEND_PATH)
    with pytest.raises(TransientSendError) as raised:
        sender.send_raw(message(1), "k1")
    assert isinstance(raised.value, Throttled) and raised.value.retry_after == timedelta(seconds=42)
    assert ol.sleeps == []  # a send is tried once per call: the outbox waits, not the sender
    sender.send_raw(message(1), "k1")  # a 429 did nothing: no lookup needed
    assert mail.sent_by(ORGANIZER) == [message(1)]
    assert ol.fake.requests("/sentitems") == []


def test_a_lost_answer_without_permission_to_read_sent_items_sends_again_and_says_so(ol, mail, tmp_path, clock,
                                                                                    caplog):
    sender = make_sender(ol, tmp_path, clock, permissions=("Mail.Send",))
    assert sender.was_sent("<m1@northwind.example>", "k1") is None  # cannot ask: never False
    ol.fake.faults.fail_next("lost", path_contains=SEND_PATH)
    with pytest.raises(TransientSendError):
        sender.send_raw(message(1), "k1")
    sender.send_raw(message(1), "k1")
    assert mail.sent_by(ORGANIZER) == [message(1), message(1)]
    assert "grant Mail.Read" in caplog.text and "may arrive twice" in caplog.text


def test_was_sent_finds_a_message_sent_by_another_process_by_its_message_id(ol, mail, tmp_path, clock):
    make_sender(ol, tmp_path / "one", clock).send_raw(message(1), "k1")
    other = make_sender(ol, tmp_path / "two", clock)
    assert other.was_sent("<m1@northwind.example>", "k1") is True
    assert other.was_sent("m1@northwind.example", "k1") is True  # without brackets too
    assert other.was_sent("<m2@northwind.example>", "k2") is False
    assert other.was_sent("<o'brien@northwind.example>", "k3") is False  # quoted in the filter


def test_a_sender_without_mail_send_is_refused_as_credentials_and_nothing_is_left_in_doubt(ol, mail, tmp_path,
                                                                                          clock):
    sender = make_sender(ol, tmp_path, clock, permissions=("Mail.Read",))
    with pytest.raises(CredentialsExpired) as raised:
        sender.send_raw(message(1), "k1")
    assert raised.value.role == "send"
    assert sender.state.read().get("attempts") == {}


def test_the_factory_sends_from_the_organizers_mailbox(ol, mail, tmp_path, clock):
    section = ol.section()
    sender = outlook_sender(tmp_path, section=section, organizer_email=ORGANIZER)
    sender.send_raw(message(1), "k1")
    assert mail.sent_by(ORGANIZER) == [message(1)]
    assert sender.was_sent("<m1@northwind.example>", "elsewhere") is True
