"""The inbox role's contract: new messages come in byte for byte, are marked processed and never deleted,
processed ones are not fetched again, and a malformed message does not stop the others.

Each implementation provides the `inbox`, and as test-only hooks: `deliver` (a message arrives,
put there the way the mail system puts mail) and `held` (every message the mailbox still holds,
processed or not). Neither belongs to the production Inbox Protocol.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coachd.providers.base import Inbox

REPLY = b"From: ana@northwind.example\r\nSubject: Re: feedback\r\n\r\nRating: 5\r\n"
MALFORMED = b"\xff\xfe\x00not: really\r\nheaders\r\n\r\n\x80\x81 body with \x00 bytes"

Deliver = Callable[[bytes], None]
Held = Callable[[], list[bytes]]


def reply(n: int) -> bytes:
    return (f"From: Ana Souza <ana@northwind.example>\r\nTo: coaching@northwind.example\r\n"
            f"Subject: Re: feedback {n}\r\nMessage-ID: <reply-{n}@northwind.example>\r\n\r\n"
            f"Rating: {n % 5 + 1}\r\n").encode()


class InboxContract:
    """Behaviour every Inbox must have. Subclasses provide an empty `inbox`, `deliver` and `held`, and
    may set `malformed` to the broken message their mail system can carry byte for byte."""

    malformed = MALFORMED

    @pytest.fixture
    def inbox(self) -> Inbox:
        raise NotImplementedError("subclasses provide an empty inbox")

    @pytest.fixture
    def deliver(self) -> Deliver:
        raise NotImplementedError("subclasses put a message into the mailbox as their mail system does")

    @pytest.fixture
    def held(self) -> Held:
        raise NotImplementedError("subclasses read every message the mailbox holds, processed or not")

    def refs(self, inbox: Inbox) -> dict[bytes, str]:
        return {m.raw: m.ref for m in inbox.fetch()}

    def test_satisfies_the_protocol(self, inbox: Inbox) -> None:
        assert isinstance(inbox, Inbox)

    def test_empty_inbox_fetches_nothing(self, inbox: Inbox) -> None:
        assert list(inbox.fetch()) == []

    # --- new messages in ----------------------------------------------------------------------------

    def test_delivered_messages_are_fetched_byte_for_byte(self, inbox: Inbox, deliver: Deliver) -> None:
        deliver(REPLY)
        deliver(self.malformed)
        got = list(inbox.fetch())
        assert sorted(m.raw for m in got) == sorted([REPLY, self.malformed])
        assert len({m.ref for m in got}) == 2

    def test_a_message_arriving_later_is_fetched_next_time(self, inbox: Inbox, deliver: Deliver) -> None:
        deliver(reply(1))
        (first,) = inbox.fetch()
        inbox.mark_processed(first.ref)
        deliver(reply(2))
        assert [m.raw for m in inbox.fetch()] == [reply(2)]

    def test_malformed_mail_does_not_stop_the_fetch(self, inbox: Inbox, deliver: Deliver) -> None:
        for raw in (reply(1), self.malformed, reply(2)):
            deliver(raw)
        refs = self.refs(inbox)
        assert set(refs) == {reply(1), self.malformed, reply(2)}
        for ref in refs.values():  # the malformed one is marked like any other
            inbox.mark_processed(ref)
        assert list(inbox.fetch()) == []

    # --- processed ----------------------------------------------------------------------------------

    def test_processed_messages_are_not_fetched_again(self, inbox: Inbox, deliver: Deliver) -> None:
        deliver(REPLY)
        deliver(REPLY + b"again\r\n")
        refs = self.refs(inbox)
        first, second = refs[REPLY], refs[REPLY + b"again\r\n"]
        inbox.mark_processed(first)
        inbox.mark_processed(first)  # twice: nothing more happens
        assert [m.ref for m in inbox.fetch()] == [second]
        assert [m.ref for m in inbox.fetch()] == [second], "fetching alone must not consume messages"

    def test_processed_messages_are_kept_never_deleted(self, inbox: Inbox, deliver: Deliver, held: Held) -> None:
        messages = [reply(1), self.malformed, reply(2)]
        for raw in messages:
            deliver(raw)
        for ref in self.refs(inbox).values():
            inbox.mark_processed(ref)
        assert list(inbox.fetch()) == []
        assert sorted(held()) == sorted(messages), "processed messages stay, byte for byte"

    def test_marking_an_unknown_message_raises(self, inbox: Inbox) -> None:
        with pytest.raises(KeyError):
            inbox.mark_processed("no-such-message")
