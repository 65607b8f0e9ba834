"""The `smtp` sender runs the sender contract against a real SMTP server (aiosmtpd on loopback, STARTTLS
and AUTH); TLS modes, connection reuse and failures beside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

import pytest

from coachd.providers.base import PermanentSendError, TransientSendError
from coachd.providers.mailserver.smtp import SmtpSender
from tests.contracts.sender_suite import Outage, SenderContract, Sent, invitation, stored
from tests.support.smtp_servers import PASSWORD, USER, Recorder, Tls, smtp_server, tls_contexts


def message(n: int, to: str = "ana@example.org") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Coaching Office <office@example.org>"
    msg["To"] = f"Ana Souza <{to}>"
    msg["Cc"] = "Maria Lopez <maria@example.org>"
    msg["Subject"] = f"Agenda n°{n}: Négociation"
    msg["Message-ID"] = f"<m{n}@coachd.example.org>"
    msg.set_content(f"Message {n}: ça va?\n")
    return msg.as_bytes()


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture(scope="module")
def tls() -> Tls:
    return tls_contexts()


class TestSmtpSender(SenderContract):
    # SMTP cannot tell a second send of the same key: the outbox's record of what went is what
    # keeps a message from going twice.
    idempotent_send = False
    # Without `sent_folder` SMTP cannot say what arrived (with one: tests/integration/test_sender_crash.py).
    knows_what_was_sent = False

    @pytest.fixture
    def recorder(self) -> Recorder:
        return Recorder(refuse_to={"nobody@northwind.example"})

    @pytest.fixture
    def sender(self, recorder: Recorder, tls: Tls) -> Iterator[SmtpSender]:
        with smtp_server(recorder, mode="starttls", tls=tls, auth=True) as port:
            sender = SmtpSender("127.0.0.1", port, tls="starttls", username=USER, password=PASSWORD,
                                ssl_context=tls.client)
            yield sender
            sender.close()

    @pytest.fixture
    def sent(self, recorder: Recorder) -> Sent:
        return lambda: [r.data for r in recorder.received]

    @pytest.fixture
    def outage(self, recorder: Recorder) -> Outage:
        @contextmanager
        def deferring() -> Iterator[None]:
            """The server answers 451 (try again later) to every message meanwhile."""
            with recorder.lock:
                recorder.defer_on |= set(range(recorder.seen + 1, recorder.seen + 100))
            try:
                yield
            finally:
                with recorder.lock:
                    recorder.defer_on.clear()

        return deferring

    @pytest.fixture
    def refused(self) -> bytes:
        return stored(invitation(to="Nobody <nobody@northwind.example>"))  # 550: no such user


def test_starttls_with_login_sends_a_batch_over_one_connection_byte_for_byte(tls):
    recorder = Recorder()
    with smtp_server(recorder, mode="starttls", tls=tls, auth=True) as port:
        sender = SmtpSender("127.0.0.1", port, tls="starttls", username=USER, password=PASSWORD,
                            ssl_context=tls.client)
        for n in range(5):
            sender.send_raw(message(n), f"key-{n}")
        sender.close()
    assert sender.connections_opened == 1
    # What the outbox stored is what arrives, lines ending in CRLF as SMTP wants.
    assert [r.data for r in recorder.received] == [crlf(message(n)) for n in range(5)]
    assert recorder.received[0].mail_from == "office@example.org"
    assert recorder.received[0].rcpt_tos == ["ana@example.org", "maria@example.org"]


def test_implicit_tls(tls):
    recorder = Recorder()
    with smtp_server(recorder, mode="implicit", tls=tls, auth=True) as port:
        sender = SmtpSender("127.0.0.1", port, tls="implicit", username=USER, password=PASSWORD,
                            ssl_context=tls.client)
        sender.send_raw(message(1), "k")
        sender.close()
    assert len(recorder.received) == 1


def test_a_server_that_is_not_trusted_is_not_sent_to(tls):
    recorder = Recorder()
    with smtp_server(recorder, mode="starttls", tls=tls) as port:
        sender = SmtpSender("127.0.0.1", port, tls="starttls")  # the system's trust store: not our CA
        with pytest.raises(TransientSendError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
            sender.send_raw(message(1), "k")
    assert recorder.received == []


def test_a_wrong_password_is_transient_so_nothing_is_lost_while_the_admin_fixes_it(tls):
    recorder = Recorder()
    with smtp_server(recorder, mode="starttls", tls=tls, auth=True) as port:
        sender = SmtpSender("127.0.0.1", port, tls="starttls", username=USER, password="wrong",
                            ssl_context=tls.client)
        with pytest.raises(TransientSendError, match="login refused"):
            sender.send_raw(message(1), "k")


def test_a_connection_dropped_mid_batch_is_reopened_and_the_batch_goes_on():
    recorder = Recorder(drop_on={3})
    with smtp_server(recorder) as port:
        sender = SmtpSender("127.0.0.1", port, tls="none")
        for n in range(6):
            sender.send_raw(message(n), f"key-{n}")
        sender.close()
    assert sender.connections_opened == 2
    assert sorted(r.data.count(b"Message ") for r in recorder.received) == [1] * 6
    subjects = [next(line for line in r.data.splitlines() if line.startswith(b"Message-ID")) for r in recorder.received]
    assert len(set(subjects)) == 6  # each once: the dropped one was not accepted before the drop


def test_4xx_is_transient_and_5xx_permanent():
    recorder = Recorder(defer_on={1}, refuse_to={"nobody@example.org"})
    with smtp_server(recorder) as port:
        sender = SmtpSender("127.0.0.1", port, tls="none")
        with pytest.raises(TransientSendError, match="451"):
            sender.send_raw(message(1), "k1")
        sender.send_raw(message(1), "k1")  # the retry is accepted
        with pytest.raises(PermanentSendError, match="550"):
            sender.send_raw(message(2, to="nobody@example.org").replace(b"Cc: Maria Lopez <maria@example.org>\n", b""),
                            "k2")
        sender.close()
    assert len(recorder.received) == 1


def test_nobody_listening_is_transient():
    from tests.support.smtp_servers import free_port

    sender = SmtpSender("127.0.0.1", free_port(), tls="none", timeout=2)
    with pytest.raises(TransientSendError, match="cannot connect"):
        sender.send_raw(message(1), "k")
