"""The `imap` inbox runs the inbox contract against a real Dovecot on loopback, in both of its modes:
processed marked with a keyword, or moved to another folder (skipped where Dovecot is not installed)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from coachd.providers.mailserver.imap import ImapInbox
from tests.contracts.inbox_suite import MALFORMED, Deliver, Held, InboxContract
from tests.support.imap_server import Dovecot, imap_inbox

_folder_numbers = itertools.count(1)


def held_in(client: IMAPClient, *folders: str) -> list[bytes]:
    """Every message in these folders that is not on its way out (\\Deleted), read without changing anything."""
    found: list[bytes] = []
    for name in folders:
        if not client.folder_exists(name):
            continue
        client.select_folder(name, readonly=True)
        uids = client.search(["NOT", "DELETED"])
        found += [data[b"BODY[]"] for data in client.fetch(uids, ["BODY.PEEK[]"]).values()]
    return found


@pytest.fixture(scope="module")
def admin(dovecot: Dovecot) -> Iterator[IMAPClient]:
    """The mail server's own side, one connection for the module (a login per message is slow)."""
    with dovecot.admin() as client:
        yield client


class TestImapFlagInbox(InboxContract):
    # IMAP cannot carry a NUL byte (RFC 3501 4.3); Dovecot sends 0x80 in its place. The rest of the
    # malformed message (no real header, invalid UTF-8) still arrives byte for byte.
    malformed = MALFORMED.replace(b"\x00", b"\x80")
    processed_folder: str | None = None

    @pytest.fixture
    def inbox(self, dovecot: Dovecot, tmp_path: Path, folder: str) -> Iterator[ImapInbox]:
        done = self.processed_folder and f"{folder}-{self.processed_folder}"
        box = imap_inbox(dovecot, tmp_path / "state", folder, processed_folder=done)
        yield box
        box.close()

    @pytest.fixture
    def folder(self, admin: IMAPClient) -> str:
        """A new, empty folder for each test: all tests share one Dovecot user."""
        name = f"Contract{next(_folder_numbers)}"
        admin.create_folder(name)
        return name

    @pytest.fixture
    def deliver(self, admin: IMAPClient, folder: str) -> Deliver:
        def deliver(raw: bytes) -> None:
            admin.append(folder, raw)  # as the mail server's delivery agent would

        return deliver

    @pytest.fixture
    def held(self, admin: IMAPClient, folder: str) -> Held:
        folders = [folder] + ([f"{folder}-{self.processed_folder}"] if self.processed_folder else [])
        return lambda: held_in(admin, *folders)


class TestImapMoveInbox(TestImapFlagInbox):
    processed_folder = "processed"
