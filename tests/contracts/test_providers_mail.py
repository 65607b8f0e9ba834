"""MailSender and Inbox: the contracts, run against the file sender and the Maildir inbox."""

from __future__ import annotations

import email
import email.policy
import hashlib
import mailbox
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from coachd.providers.base import MailSender, PermanentSendError, TransientSendError
from coachd.providers.local.file_sender import FileSender
from coachd.providers.local.maildir import MaildirInbox
from tests.support.inbox_contract import MALFORMED, InboxContract

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def invitation(date: str = "Mon, 11 Jan 2027 09:00:00 -0600", kind: str | None = "invitation") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Northwind Coaching Office <coaching@northwind.example>"
    msg["To"] = "Ana Souza <ana@northwind.example>"
    msg["Subject"] = "Invitation: Americas Enterprise — weekly group"
    msg["Date"] = date
    msg["Message-ID"] = "<inv-1@coachd.example>"
    if kind is not None:
        msg["X-Coachd-Kind"] = kind
    msg["X-Coachd-Series"] = "northwind-2027-group-americas@coachd.example"
    msg.set_content("Olá Ana, you are invited.\n")
    msg.add_attachment(ICS, maintype="text", subtype="calendar", params={"method": "REQUEST"}, filename="invite.ics")
    return msg


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


class MailSenderContract:
    """Behaviour every MailSender must have. Subclasses provide `sender` and `delivered`
    (a callable returning the raw bytes of every message the mail system received)."""

    @pytest.fixture
    def sender(self) -> MailSender:
        raise NotImplementedError

    @pytest.fixture
    def delivered(self) -> Callable[[], list[bytes]]:
        raise NotImplementedError

    def test_satisfies_the_protocol(self, sender: MailSender) -> None:
        assert isinstance(sender, MailSender)

    def test_sent_message_arrives_whole(self, sender: MailSender, delivered: Callable[[], list[bytes]]) -> None:
        sender.send(invitation(), "mail:northwind-2027/series/invitation/ana")
        (raw,) = delivered()
        got = parse(raw)
        assert got["Subject"] == "Invitation: Americas Enterprise — weekly group"
        assert got["To"] == "Ana Souza <ana@northwind.example>"
        assert got["X-Coachd-Kind"] == "invitation"
        assert got.get_body(("plain",)).get_content() == "Olá Ana, you are invited.\n"
        (attachment,) = list(got.iter_attachments())
        assert attachment.get_content_type() == "text/calendar" and attachment.get_content() == ICS.decode()

    def test_same_key_is_sent_once_even_if_rendered_again(self, sender: MailSender,
                                                          delivered: Callable[[], list[bytes]]) -> None:
        key = "mail:northwind-2027/series/invitation/ana"
        sender.send(invitation(), key)
        sender.send(invitation(), key)
        sender.send(invitation(date="Mon, 11 Jan 2027 09:05:00 -0600"), key)
        assert len(delivered()) == 1

    def test_different_keys_are_different_messages(self, sender: MailSender,
                                                   delivered: Callable[[], list[bytes]]) -> None:
        sender.send(invitation(), "mail:p/s/invitation/ana")
        sender.send(invitation(), "mail:p/s/invitation/ben")
        assert len(delivered()) == 2


class TestFileSenderContract(MailSenderContract):
    @pytest.fixture
    def sender(self, tmp_path: Path) -> FileSender:
        return FileSender(tmp_path / "mail")

    @pytest.fixture
    def delivered(self, tmp_path: Path) -> Callable[[], list[bytes]]:
        return lambda: [p.read_bytes() for p in sorted((tmp_path / "mail").glob("*.eml"))]


def test_file_is_named_after_utc_date_kind_and_key(tmp_path: Path) -> None:
    sender = FileSender(tmp_path)
    message = invitation()
    sender.send(message, "k1")
    (path,) = tmp_path.iterdir()
    assert path.name == f"20270111T150000Z-invitation-{hashlib.sha1(b'k1').hexdigest()[:12]}.eml"
    assert path.read_bytes() == message.as_bytes()


def test_odd_or_missing_kind_still_gives_a_plain_file_name(tmp_path: Path) -> None:
    sender = FileSender(tmp_path)
    sender.send(invitation(kind="../Feedback Request"), "k1")
    sender.send(invitation(kind=None), "k2")
    names = sorted(p.name.split("-", 1)[1].rsplit("-", 1)[0] for p in tmp_path.iterdir())
    assert names == ["feedback-request", "message"]
    assert all(p.parent == tmp_path for p in tmp_path.iterdir())


def test_message_without_date_is_a_permanent_failure(tmp_path: Path) -> None:
    message = invitation()
    del message["Date"]
    with pytest.raises(PermanentSendError, match="Date"):
        FileSender(tmp_path).send(message, "k1")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_a_transient_failure(tmp_path: Path) -> None:
    sender = FileSender(tmp_path / "mail")
    (tmp_path / "mail").rmdir()
    (tmp_path / "mail").write_text("a file where the folder should be")
    with pytest.raises(TransientSendError):
        sender.send(invitation(), "k1")


# --- inbox ------------------------------------------------------------------------------------------------

REPLY = b"From: ana@northwind.example\r\nSubject: Re: feedback\r\n\r\nRating: 5\r\n"




class TestMaildirInboxContract(InboxContract):
    @pytest.fixture
    def inbox(self, tmp_path: Path) -> MaildirInbox:
        return MaildirInbox(tmp_path / "inbox")


def test_processed_means_seen_in_cur_and_nothing_is_deleted(tmp_path: Path) -> None:
    inbox = MaildirInbox(tmp_path / "inbox")
    ref = inbox.deliver(MALFORMED)
    assert [p.name for p in (tmp_path / "inbox" / "new").iterdir()] == [ref]
    inbox.mark_processed(ref)
    assert list((tmp_path / "inbox" / "new").iterdir()) == []
    (path,) = (tmp_path / "inbox" / "cur").iterdir()
    assert path.name == f"{ref}:2,S" and path.read_bytes() == MALFORMED
    assert "S" in mailbox.Maildir(str(tmp_path / "inbox"), create=False).get_message(ref).get_flags()


def test_messages_other_programs_put_there_are_read_and_their_flags_kept(tmp_path: Path) -> None:
    inbox = MaildirInbox(tmp_path / "inbox")
    (tmp_path / "inbox" / "new" / "1700000000.external.host").write_bytes(REPLY)
    (tmp_path / "inbox" / "cur" / "1700000001.read.host:2,F").write_bytes(REPLY)  # flagged, opened by a person
    (tmp_path / "inbox" / "cur" / "1700000002.done.host:2,RS").write_bytes(REPLY)  # already seen
    assert sorted(m.ref for m in inbox.fetch()) == ["1700000000.external.host", "1700000001.read.host"]
    inbox.mark_processed("1700000001.read.host")
    assert (tmp_path / "inbox" / "cur" / "1700000001.read.host:2,FS").read_bytes() == REPLY


def test_named_delivery_cannot_escape_the_maildir(tmp_path: Path) -> None:
    inbox = MaildirInbox(tmp_path / "inbox")
    ref = inbox.deliver(REPLY, name="../../etc/x:2,S")
    assert (tmp_path / "inbox" / "new" / ref).read_bytes() == REPLY
    assert [m.ref for m in inbox.fetch()] == [ref]
    assert list((tmp_path / "inbox" / "tmp").iterdir()) == []
