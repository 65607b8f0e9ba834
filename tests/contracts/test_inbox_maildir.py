"""The `maildir` inbox runs the inbox contract; its Maildir flags and `coachd simulate`'s deliveries beside it."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from coachd.providers.local.maildir import MaildirInbox
from tests.contracts.inbox_suite import MALFORMED, REPLY, Deliver, Held, InboxContract


class TestMaildirInbox(InboxContract):
    @pytest.fixture
    def inbox(self, tmp_path: Path) -> MaildirInbox:
        return MaildirInbox(tmp_path / "inbox")

    @pytest.fixture
    def deliver(self, inbox: MaildirInbox) -> Deliver:
        # As a mail delivery agent does it: written in tmp/, then moved into new/.
        maildir = mailbox.Maildir(str(inbox.path), create=False)

        def deliver(raw: bytes) -> None:
            maildir.add(raw)

        return deliver

    @pytest.fixture
    def held(self, inbox: MaildirInbox) -> Held:
        return lambda: [p.read_bytes() for sub in ("new", "cur") for p in (inbox.path / sub).iterdir()]


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


# --- deliver: how `coachd simulate` puts its scripted replies into the embedded inbox ----------------------


def test_delivered_messages_are_fetched_under_the_ref_deliver_gave(tmp_path: Path) -> None:
    inbox = MaildirInbox(tmp_path / "inbox")
    refs = [inbox.deliver(REPLY), inbox.deliver(MALFORMED)]
    assert {m.ref: m.raw for m in inbox.fetch()} == dict(zip(refs, [REPLY, MALFORMED]))


def test_named_delivery_happens_once(tmp_path: Path) -> None:
    inbox = MaildirInbox(tmp_path / "inbox")
    ref = inbox.deliver(REPLY, name="replies/ana 2027-01-12.eml")
    assert inbox.deliver(REPLY, name="replies/ana 2027-01-12.eml") == ref
    inbox.mark_processed(ref)
    assert inbox.deliver(REPLY, name="replies/ana 2027-01-12.eml") == ref
    assert list(inbox.fetch()) == []


def test_named_delivery_cannot_escape_the_maildir(tmp_path: Path) -> None:
    inbox = MaildirInbox(tmp_path / "inbox")
    ref = inbox.deliver(REPLY, name="../../etc/x:2,S")
    assert (tmp_path / "inbox" / "new" / ref).read_bytes() == REPLY
    assert [m.ref for m in inbox.fetch()] == [ref]
    assert list((tmp_path / "inbox" / "tmp").iterdir()) == []
