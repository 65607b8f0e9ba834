"""Behaviour every Inbox must have."""

from __future__ import annotations

import pytest

from coachd.providers.base import Inbox

REPLY = b"From: ana@northwind.example\r\nSubject: Re: feedback\r\n\r\nRating: 5\r\n"


MALFORMED = b"\xff\xfe\x00not: really\r\nheaders\r\n\r\n\x80\x81 body with \x00 bytes"


class InboxContract:
    """Behaviour every Inbox must have. Subclasses provide an empty `inbox`, and may set `malformed` to
    the broken message their mail system can carry byte for byte."""

    malformed = MALFORMED

    @pytest.fixture
    def inbox(self) -> Inbox:
        raise NotImplementedError

    def test_satisfies_the_protocol(self, inbox: Inbox) -> None:
        assert isinstance(inbox, Inbox)

    def test_empty_inbox_fetches_nothing(self, inbox: Inbox) -> None:
        assert list(inbox.fetch()) == []

    def test_delivered_messages_are_fetched_byte_for_byte(self, inbox: Inbox) -> None:
        refs = [inbox.deliver(REPLY), inbox.deliver(self.malformed)]
        got = {m.ref: m.raw for m in inbox.fetch()}
        assert got == dict(zip(refs, [REPLY, self.malformed]))

    def test_processed_messages_are_not_fetched_again(self, inbox: Inbox) -> None:
        first, second = inbox.deliver(REPLY), inbox.deliver(REPLY + b"again\r\n")
        inbox.mark_processed(first)
        inbox.mark_processed(first)  # twice: nothing more happens
        assert [m.ref for m in inbox.fetch()] == [second]
        assert [m.ref for m in inbox.fetch()] == [second], "fetching alone must not consume messages"

    def test_marking_an_unknown_message_raises(self, inbox: Inbox) -> None:
        with pytest.raises(KeyError):
            inbox.mark_processed("no-such-message")

    def test_named_delivery_happens_once(self, inbox: Inbox) -> None:
        ref = inbox.deliver(REPLY, name="replies/ana 2027-01-12.eml")
        assert inbox.deliver(REPLY, name="replies/ana 2027-01-12.eml") == ref
        inbox.mark_processed(ref)
        assert inbox.deliver(REPLY, name="replies/ana 2027-01-12.eml") == ref
        assert list(inbox.fetch()) == []
