"""The `file` mail sender: each message becomes one .eml file in a folder."""

from __future__ import annotations

import email.message
import email.utils
from email.parser import BytesHeaderParser
import hashlib
import re
from datetime import datetime
from pathlib import Path

from coachd.model.types import UTC
from coachd.providers.files import atomic_write
from coachd.providers.base import SmtpEnvelope, MailSender, PermanentSendError, TransientSendError


def key_digest(key: str) -> str:
    """The part of a file name that identifies the send: 12 hex digits of sha1(key)."""
    return hashlib.sha1(key.encode()).hexdigest()[:12]


class FileSender(MailSender):
    """Writes `<Date as YYYYmmddTHHMMSSZ>-<X-Coachd-Kind>-<sha1(key)[:12]>.eml`, once per key."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._written: set[str] | None = None  # key digests already in the folder, read once

    def path_for(self, message: email.message.Message, key: str) -> Path:
        """Where `message` goes; raises PermanentSendError when it has no usable Date header."""
        sent_at = _date(message)
        kind = re.sub(r"[^a-z0-9-]+", "-", str(message.get("X-Coachd-Kind", "message")).lower()).strip("-")
        return self.folder / f"{sent_at:%Y%m%dT%H%M%SZ}-{kind or 'message'}-{key_digest(key)}.eml"

    def send(self, message: email.message.EmailMessage, key: str) -> None:
        try:
            data = message.as_bytes()
        except (UnicodeError, ValueError, TypeError) as exc:
            raise PermanentSendError(f"cannot serialise message for {key}: {exc}") from exc
        self._write_once(self.path_for(message, key), data, key)

    def send_raw(self, raw: bytes, key: str, envelope: SmtpEnvelope | None = None) -> None:
        # The headers name the file; the bytes go out as the outbox stored them.
        self._write_once(self.path_for(BytesHeaderParser().parsebytes(raw), key), raw, key)

    def was_sent(self, message_id: str, key: str) -> bool | None:
        """The folder can tell: a file for the key is there or not (read again: the folder is the truth)."""
        digest = key_digest(key)
        return any(self.folder.glob(f"*-{digest}.eml"))

    def _write_once(self, path: Path, data: bytes, key: str) -> None:
        # Look for the key alone, not the whole name: a message re-rendered with another Date
        # after a crash is still the same send and must not become a second file. The folder is
        # read once per process (one daemon per state directory holds its lock), then kept.
        if self._written is None:
            self._written = {p.name.rsplit("-", 1)[-1].removesuffix(".eml") for p in self.folder.glob("*.eml")}
        digest = key_digest(key)
        if digest in self._written:
            return
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise TransientSendError(f"cannot write {path}: {exc}") from exc
        self._written.add(digest)


def _date(message: email.message.Message) -> datetime:
    header = message.get("Date")
    if header is None:
        raise PermanentSendError("message has no Date header")
    try:
        value = email.utils.parsedate_to_datetime(str(header))
    except (TypeError, ValueError, IndexError) as exc:
        raise PermanentSendError(f"unreadable Date header {header!r}") from exc
    # RFC 5322's "-0000" (no zone information) parses naive: it means UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
