"""The sender role's contract: the outbox's stored bytes go out unchanged, once per key where the
mail system can tell, and failures say whether trying again can help.

Each implementation provides the `sender`, and as test-only hooks: `sent` (what the mail system
received, in order), `outage` (a context in which the system fails for a while) and `refused`
(a message the system will never take).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from contextlib import AbstractContextManager
from email.message import EmailMessage

import pytest

from coachd.providers.base import MailSender, PermanentSendError, TransientSendError

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"

Sent = Callable[[], list[bytes]]
Outage = Callable[[], AbstractContextManager[None]]


def invitation(date: str = "Mon, 11 Jan 2027 09:00:00 -0600", kind: str | None = "invitation",
               to: str = "Ana Souza <ana@northwind.example>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Northwind Coaching Office <coaching@northwind.example>"
    msg["To"] = to
    msg["Subject"] = "Invitation: Americas Enterprise — weekly group"
    msg["Date"] = date
    msg["Message-ID"] = "<inv-1@coachd.example>"
    if kind is not None:
        msg["X-Coachd-Kind"] = kind
    msg["X-Coachd-Series"] = "northwind-2027-group-americas@coachd.example"
    msg.set_content("Olá Ana, you are invited.\n")
    msg.add_attachment(ICS, maintype="text", subtype="calendar", params={"method": "REQUEST"}, filename="invite.ics")
    return msg


def stored(message: EmailMessage) -> bytes:
    """The bytes the outbox stores for a message: RFC 5322 with CRLF line ends."""
    return message.as_bytes(policy=email.policy.SMTP)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


class SenderContract:
    """Behaviour every MailSender must have. Subclasses provide `sender` and the hooks, and declare
    whether their mail system can tell a second send of the same key."""

    # A second send with the same outbox key does nothing (a file per key, Graph's transactionId);
    # SMTP cannot tell, so the outbox's record is what keeps it from sending twice.
    idempotent_send = True
    # Whether `was_sent` can say if a message arrived (the file sender; smtp with a Sent folder the
    # server files into). Without it, it must answer None, never False: False lets an email that may
    # have arrived go out again uncounted after a crash.
    knows_what_was_sent = True

    @pytest.fixture
    def sender(self) -> MailSender:
        raise NotImplementedError("subclasses provide the sender")

    @pytest.fixture
    def sent(self) -> Sent:
        raise NotImplementedError("subclasses read back what the mail system received")

    @pytest.fixture
    def outage(self) -> Outage:
        raise NotImplementedError("subclasses make the mail system fail for a while")

    @pytest.fixture
    def refused(self) -> bytes:
        raise NotImplementedError("subclasses give a message their mail system will never take")

    @pytest.fixture
    def requires_idempotent_send(self) -> None:
        if not self.idempotent_send:
            pytest.skip("this mail system cannot tell a second send of the same key")

    def test_satisfies_the_protocol(self, sender: MailSender) -> None:
        assert isinstance(sender, MailSender)

    # --- bytes out --------------------------------------------------------------------------------

    def test_sent_message_arrives_whole(self, sender: MailSender, sent: Sent) -> None:
        sender.send(invitation(), "mail:northwind-2027/series/invitation/ana")
        sender.close()
        (raw,) = sent()
        got = parse(raw)
        assert got["Subject"] == "Invitation: Americas Enterprise — weekly group"
        assert got["To"] == "Ana Souza <ana@northwind.example>"
        assert got["X-Coachd-Kind"] == "invitation"
        # Line ends may become CRLF on the way (SMTP's); the text is the same.
        assert got.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Olá Ana, you are invited.\n"
        (attachment,) = list(got.iter_attachments())
        assert attachment.get_content_type() == "text/calendar" and attachment.get_content() == ICS.decode()

    def test_stored_bytes_go_out_unchanged(self, sender: MailSender, sent: Sent) -> None:
        raw = stored(invitation())
        sender.send_raw(raw, "mail:northwind-2027/series/invitation/ana")
        sender.close()
        assert sent() == [raw]

    def test_every_message_of_a_batch_goes_out(self, sender: MailSender, sent: Sent) -> None:
        batch = [stored(invitation(to=f"Coachee {n} <c{n}@northwind.example>")) for n in range(3)]
        for n, raw in enumerate(batch):
            sender.send_raw(raw, f"mail:p/s/invitation/c{n}")
        sender.close()
        assert sorted(sent()) == sorted(batch)

    def test_different_keys_are_different_messages(self, sender: MailSender, sent: Sent) -> None:
        sender.send(invitation(), "mail:p/s/invitation/ana")
        sender.send(invitation(), "mail:p/s/invitation/ben")
        sender.close()
        assert len(sent()) == 2

    def test_same_key_is_sent_once_even_if_rendered_again(self, sender: MailSender, sent: Sent,
                                                          requires_idempotent_send: None) -> None:
        key = "mail:northwind-2027/series/invitation/ana"
        sender.send(invitation(), key)
        sender.send(invitation(), key)
        sender.send(invitation(date="Mon, 11 Jan 2027 09:05:00 -0600"), key)
        sender.send_raw(stored(invitation()), key)
        sender.close()
        assert len(sent()) == 1

    # --- errors -------------------------------------------------------------------------------------

    def test_a_passing_failure_is_transient_and_the_retry_goes_out_once(self, sender: MailSender, sent: Sent,
                                                                       outage: Outage) -> None:
        raw = stored(invitation())
        with outage(), pytest.raises(TransientSendError):
            sender.send_raw(raw, "mail:p/s/invitation/ana")
        assert sent() == []
        sender.send_raw(raw, "mail:p/s/invitation/ana")  # what the outbox does next round
        sender.close()
        assert sent() == [raw]

    def test_a_message_that_can_never_go_is_a_permanent_failure(self, sender: MailSender, sent: Sent,
                                                                refused: bytes) -> None:
        with pytest.raises(PermanentSendError):
            sender.send_raw(refused, "mail:p/s/invitation/nobody")
        raw = stored(invitation())
        sender.send_raw(raw, "mail:p/s/invitation/ana")  # and the next one still goes
        sender.close()
        assert sent() == [raw]

    def test_was_sent_says_what_arrived_or_that_it_cannot_tell(self, sender: MailSender, sent: Sent) -> None:
        message = invitation()
        message_id = str(message["Message-ID"])
        before = sender.was_sent(message_id, "mail:p/was-sent")
        sender.send_raw(stored(message), "mail:p/was-sent")
        sender.close()
        after = sender.was_sent(message_id, "mail:p/was-sent")
        if self.knows_what_was_sent:
            assert (before, after) == (False, True)
        else:
            assert (before, after) == (None, None)
