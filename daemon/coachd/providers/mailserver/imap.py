"""The `imap` inbox: replies read from an IMAP folder, then flagged processed or moved to another folder.

A message's ref is "<UIDVALIDITY>:<UID>", which IMAP guarantees stable while the message stays in
the folder and the folder is not recreated. What is processed is recorded on the server, never
here: a keyword ($CoachdProcessed, with \\Seen) on the message, or the message moved to
`processed_folder`; so a second coachd, a restored state directory or a mail client all see the
same truth. Network failures and refused logins are TransientInboxError (the inbox job fails this
run and the next one tries again; nothing is lost), mirroring the smtp sender. A connection that
dropped is opened again once, right away, before an operation is given up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError, LoginError

from coachd.providers.files import atomic_write
from coachd.providers.mailserver.imap_connect import Tls, open_client
from coachd.providers.base import Inbox, InboundMessage, ProviderError

log = logging.getLogger("coachd.imap")

DEFAULT_PORTS = {"implicit": 993, "starttls": 143, "none": 143}
PROCESSED = "$CoachdProcessed"
SEEN, DELETED = "\\Seen", "\\Deleted"
BATCH_SIZE = 50
# Refs whose Message-ID (or whose marking) is remembered; past this the oldest are forgotten, so a
# daemon running for a year does not grow.
REMEMBERED = 10_000
REF = re.compile(r"(\d+):(\d+)")
T = TypeVar("T")


class InboxError(ProviderError):
    """The server refused what coachd asked: a folder it cannot open or create, a keyword it cannot keep."""


class TransientInboxError(InboxError):
    """The server could not be reached, dropped the connection twice, or refused the login: the next
    run may work (a login is the admin's to fix; the mail waits on the server meanwhile)."""


class ImapInbox(Inbox):
    def __init__(self, host: str, port: int | None = None, *, tls: Tls = "implicit", username: str,
                 password: str, state_dir: Path, folder: str = "INBOX", processed_folder: str | None = None,
                 ca_file: Path | None = None, ssl_context: ssl.SSLContext | None = None,
                 timeout: float = 30.0, batch_size: int = BATCH_SIZE) -> None:
        if tls not in DEFAULT_PORTS:
            raise ValueError(f"tls must be one of {', '.join(DEFAULT_PORTS)}, not {tls!r}")
        if processed_folder == folder:
            raise ValueError("processed_folder must differ from folder")
        self.host = host
        self.port = port or DEFAULT_PORTS[tls]
        self.tls = tls
        self.username = username
        self.password = password
        self.folder = folder
        self.processed_folder = processed_folder
        self.ca_file = ca_file
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.batch_size = batch_size
        digest = hashlib.sha256(f"{username}@{host}/{folder}".encode()).hexdigest()[:16]
        self.state_file = Path(state_dir) / f"imap-{digest}.json"
        self.connections_opened = 0  # for tests and logs
        self._client: IMAPClient | None = None
        self._selected: str | None = None
        self._validity: int | None = None
        self._keywords = True  # whether the folder keeps our keyword (PERMANENTFLAGS), known once selected
        self._processed_folder_ready = False
        self._state: dict[str, Any] | None = None
        self._message_ids: dict[str, str] = {}  # ref -> Message-ID, to re-find a message after UIDVALIDITY changed
        self._done: dict[str, None] = {}  # refs marked by this process (an ordered set)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    # --- Inbox -----------------------------------------------------------------------------------

    def fetch(self) -> Iterator[InboundMessage]:
        """Unprocessed messages in UID order (the order they arrived in the folder), `batch_size`
        bodies at a time, fetched with BODY.PEEK[] so that reading alone sets no \\Seen."""
        validity, uids = self._call(self._unprocessed)
        for start in range(0, len(uids), self.batch_size):
            batch = uids[start:start + self.batch_size]
            bodies = self._call(lambda client: self._bodies(client, validity, batch))
            if bodies is None:
                # The folder was recreated while we read it: these UIDs mean nothing now. The next
                # run scans the new folder; what was already yielded and not marked comes again.
                log.warning("imap %s %s: UIDVALIDITY changed during a fetch; the rest is read next run",
                            self.where, self.folder)
                return
            for uid in batch:
                raw = bodies.get(uid)
                if raw is None:  # expunged or moved by someone else meanwhile
                    continue
                ref = f"{validity}:{uid}"
                message_id = _message_id(raw)
                if message_id:
                    _keep(self._message_ids, ref, message_id)
                yield InboundMessage(ref, raw)

    def mark_processed(self, ref: str) -> None:
        match = REF.fullmatch(ref)
        if match is None:
            raise KeyError(f"no message {ref!r} in {self.where} {self.folder}")
        if ref in self._done:
            return
        self._call(lambda client: self._mark(client, ref, int(match[1]), int(match[2])))
        _keep(self._done, ref, None)

    def close(self) -> None:
        """LOGOUT politely, whatever state the connection is in."""
        if self._client is not None:
            try:
                self._client.logout()
            except (IMAPClientError, OSError):
                pass
            self._discard()

    # --- operations (each runs on a connected client, and again once after a reconnect) -----------

    def _unprocessed(self, client: IMAPClient) -> tuple[int, list[int]]:
        validity = self._select(client, self.folder, fresh=True)
        criteria: list[str] = ["UNKEYWORD", PROCESSED] if self._keywords else []
        if self.processed_folder:
            # Moving without UIDPLUS leaves the original flagged \Deleted (see _mark_uids).
            criteria.append("UNDELETED")
        return validity, sorted(client.search(criteria or ["ALL"]))

    def _bodies(self, client: IMAPClient, validity: int, uids: list[int]) -> dict[int, bytes] | None:
        if self._select(client, self.folder) != validity:
            return None
        answer = client.fetch(uids, ["BODY.PEEK[]"])
        return {uid: data[b"BODY[]"] for uid, data in answer.items() if b"BODY[]" in data}

    def _mark(self, client: IMAPClient, ref: str, validity: int, uid: int) -> None:
        # SELECT again: a folder deleted and recreated under a selected connection keeps showing the
        # old one (Dovecot then fails the STORE), and only a new SELECT tells the new UIDVALIDITY.
        if self._select(client, self.folder, fresh=True) == validity:
            flags = client.get_flags([uid])
            if uid in flags:
                self._mark_uids(client, flags)
                return
        # The ref is stale (the folder was recreated since it was fetched) or its message left the
        # folder: find the message again by its Message-ID, if we saw one.
        message_id = self._message_ids.get(ref)
        if message_id is None:
            raise KeyError(f"no message {ref!r} in {self.where} {self.folder}")
        found = client.get_flags(client.search(["HEADER", "Message-ID", message_id]))
        if found:
            self._mark_uids(client, found)
        elif not self._in_processed_folder(client, message_id):
            raise KeyError(f"no message {ref!r} ({message_id}) in {self.where} {self.folder}")

    def _mark_uids(self, client: IMAPClient, flags: dict[int, tuple[bytes, ...]]) -> None:
        keyword = PROCESSED.encode()
        todo = sorted(uid for uid, have in flags.items() if keyword not in have)
        if not todo:
            return
        if self.processed_folder is None:
            client.add_flags(todo, [SEEN, PROCESSED], silent=True)
            return
        self._ensure_processed_folder(client)
        if self._keywords:
            # Before moving: the moved copy carries it too, and an original left behind (a crash
            # between COPY and EXPUNGE, a server without UIDPLUS) is never read again.
            client.add_flags(todo, [PROCESSED], silent=True)
        if client.has_capability("MOVE"):
            client.move(todo, self.processed_folder)
            return
        client.copy(todo, self.processed_folder)
        client.add_flags(todo, [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            # UID EXPUNGE of these UIDs only: a plain EXPUNGE would also remove whatever a person
            # flagged \Deleted in the folder. Without UIDPLUS the originals stay, flagged.
            client.uid_expunge(todo)

    def _in_processed_folder(self, client: IMAPClient, message_id: str) -> bool:
        if self.processed_folder is None or not client.folder_exists(self.processed_folder):
            return False
        self._select(client, self.processed_folder, readonly=True)
        return bool(client.search(["HEADER", "Message-ID", message_id]))

    def _ensure_processed_folder(self, client: IMAPClient) -> None:
        if self._processed_folder_ready:
            return
        assert self.processed_folder is not None
        if not client.folder_exists(self.processed_folder):
            try:
                client.create_folder(self.processed_folder)
            except IMAPClientError:
                if not client.folder_exists(self.processed_folder):  # else: created by someone else meanwhile
                    raise
            log.info("imap %s: created folder %s for processed replies", self.where, self.processed_folder)
        self._processed_folder_ready = True

    def _select(self, client: IMAPClient, folder: str, *, readonly: bool = False, fresh: bool = False) -> int:
        """SELECT `folder` unless it is already selected; its UIDVALIDITY. For our own folder, notice
        a new UIDVALIDITY and whether our keyword can be kept there."""
        if self._selected == folder and not fresh and folder == self.folder and self._validity is not None:
            return self._validity
        self._selected = None
        try:
            info = client.select_folder(folder, readonly=readonly)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as error:
            raise InboxError(f"{self.where}: cannot open folder {folder!r}: {_text(error)}") from error
        self._selected = folder
        validity = int(info[b"UIDVALIDITY"])
        if folder == self.folder:
            permanent = info.get(b"PERMANENTFLAGS")
            # No PERMANENTFLAGS at all means every flag is permanent (RFC 3501 7.1).
            self._keywords = permanent is None or b"\\*" in permanent or PROCESSED.encode() in permanent
            if not self._keywords and self.processed_folder is None:
                raise InboxError(f"{self.where}: folder {folder} cannot keep the keyword {PROCESSED}, which marks "
                                 "replies processed; set processed_folder to have them moved there instead")
            self._notice_validity(validity)
        return validity

    def _notice_validity(self, validity: int) -> None:
        if validity == self._validity:
            return
        state = self._load_state()
        before = state.get("uidvalidity")
        if before is not None and before != validity:
            # The folder was recreated (or restored, or migrated): every UID changed. Every message
            # not flagged or moved is read again, and the inbox job skips those it already
            # recorded (it dedupes by Message-ID), so reading again is safe.
            log.warning("imap %s %s: UIDVALIDITY changed from %s to %s (the folder was recreated); "
                        "reading every message not marked processed again", self.where, self.folder,
                        before, validity)
        self._validity = validity
        if before != validity:
            state["uidvalidity"] = validity
            self._save_state()

    # --- connection ------------------------------------------------------------------------------

    def _call(self, operation: Callable[[IMAPClient], T]) -> T:
        for attempt in (1, 2):
            client = self._connect()
            try:
                return operation(client)
            except (IMAPClientAbortError, OSError) as error:  # EOF, BYE, reset, timeout, TLS
                self._discard()
                if attempt == 2:
                    raise TransientInboxError(f"{self.where}: connection lost: {error}") from error
                log.info("imap %s: connection lost (%s); reconnecting", self.where, error)
            except IMAPClientError as error:  # a NO or BAD answer
                raise InboxError(f"{self.where} ({self._selected or 'no folder'}): {_text(error)}") from error
        raise AssertionError("unreachable")

    def _connect(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        try:
            client = open_client(self.host, self.port, self.tls, ssl_context=self.ssl_context, ca_file=self.ca_file,
                                 timeout=self.timeout)
        except CapabilityError as error:
            raise TransientInboxError(f"{self.where}: the server offers no STARTTLS (check `tls:`): {error}") from error
        except ssl.SSLCertVerificationError as error:
            # Which CAs are trusted is the config's: `ca_file`, else the system's store.
            raise TransientInboxError(f"cannot connect to {self.where}: certificate verify failed: "
                                      f"{error.verify_message or error} (check `host` and `ca_file`)") from error
        except (IMAPClientError, OSError) as error:
            raise TransientInboxError(f"cannot connect to {self.where}: {error}") from error
        try:
            client.login(self.username, self.password)
        except LoginError as error:
            _shut(client)
            raise TransientInboxError(f"{self.where}: login refused for {self.username!r}: {_text(error)}") from error
        except (IMAPClientError, OSError) as error:
            _shut(client)
            raise TransientInboxError(f"{self.where}: connection lost while logging in: {error}") from error
        self.connections_opened += 1
        self._client = client
        return client

    def _discard(self) -> None:
        if self._client is not None:
            _shut(self._client)
        self._client = None
        self._selected = None
        self._processed_folder_ready = False

    # --- state file ------------------------------------------------------------------------------

    def _load_state(self) -> dict[str, Any]:
        if self._state is None:
            try:
                self._state = json.loads(self.state_file.read_text())
            except (FileNotFoundError, ValueError):  # none yet, or unreadable: the server has the truth
                self._state = {}
        return self._state

    def _save_state(self) -> None:
        state = {"server": f"{self.username}@{self.where}", "folder": self.folder, **self._load_state()}
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.state_file, json.dumps(state, indent=1, sort_keys=True).encode())


def _message_id(raw: bytes) -> str | None:
    """The Message-ID from the header block, when it is plain enough to SEARCH for."""
    end = raw.find(b"\r\n\r\n")
    headers = BytesHeaderParser().parsebytes(raw if end < 0 else raw[:end + 2])
    value = " ".join(str(headers.get("Message-ID", "")).split())
    return value if value and value.isascii() and '"' not in value and "\\" not in value else None


def _keep(table: dict[str, T], key: str, value: T) -> None:
    table.pop(key, None)
    table[key] = value
    while len(table) > REMEMBERED:
        del table[next(iter(table))]


def _text(error: Exception) -> str:
    """The server's words: imapclient gives some as the repr of bytes (b'[AUTHENTICATIONFAILED] ...')."""
    text = str(error)
    match = re.fullmatch(r"b(['\"])(.*)\1", text)
    return match[2] if match else text


def _shut(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except (IMAPClientError, OSError):
        pass
