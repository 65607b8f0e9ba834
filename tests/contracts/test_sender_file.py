"""The `file` sender (.eml files in a folder) runs the sender contract; its file naming beside it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from coachd.providers.base import PermanentSendError
from coachd.providers.local.file_sender import FileSender
from tests.contracts.sender_suite import Outage, SenderContract, Sent, invitation, stored


class TestFileSender(SenderContract):
    idempotent_send = True  # one file per key: the folder itself remembers what went

    @pytest.fixture
    def sender(self, tmp_path: Path) -> FileSender:
        return FileSender(tmp_path / "mail")

    @pytest.fixture
    def sent(self, tmp_path: Path) -> Sent:
        return lambda: [p.read_bytes() for p in sorted((tmp_path / "mail").glob("*.eml"))]

    @pytest.fixture
    def outage(self, tmp_path: Path) -> Outage:
        @contextmanager
        def unwritable() -> Iterator[None]:
            """A file where the folder should be (a full or read-only disk fails the same way)."""
            folder = tmp_path / "mail"
            folder.rmdir()
            folder.write_text("a file where the folder should be")
            try:
                yield
            finally:
                folder.unlink()
                folder.mkdir()

        return unwritable

    @pytest.fixture
    def refused(self) -> bytes:
        message = invitation()
        del message["Date"]  # the file's name starts with the Date: no Date, no file, ever
        return stored(message)


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
