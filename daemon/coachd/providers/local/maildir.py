"""The `maildir` inbox: a Maildir where processed means "in cur/ with the Seen flag"."""

from __future__ import annotations

import errno
import mailbox
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from coachd.providers.base import Inbox, InboundMessage

PROCESSED_FLAG = "S"


class MaildirInbox(Inbox):
    """Messages in new/ or in cur/ without the S flag are unprocessed; nothing is ever deleted.

    Marking a message processed renames its file into cur/ with `S` added to its flags (what a
    mail reader does when a message is read), so people can still open every message.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._maildir = mailbox.Maildir(str(self.path), factory=None, create=True)
        self._colon = self._maildir.colon
        # Where fetch() last saw each message: marking one processed then needs no new listing of
        # the folder (which, per message, made reading a full inbox quadratic).
        self._seen: dict[str, tuple[str, str, str]] = {}

    def fetch(self) -> Iterator[InboundMessage]:
        for ref, sub, name, flags in self._listing():
            if sub == "cur" and PROCESSED_FLAG in flags:
                continue
            self._seen[ref] = (sub, name, flags)
            try:
                raw = (self.path / sub / name).read_bytes()
            except FileNotFoundError:  # processed or moved by someone else meanwhile
                continue
            yield InboundMessage(ref, raw)

    def mark_processed(self, ref: str) -> None:
        known = self._seen.pop(ref, None)
        if known is not None:
            sub, name, flags = known
            try:
                self._mark(ref, sub, name, flags)
                return
            except FileNotFoundError:
                pass  # moved meanwhile (a mail reader marked it read, say): look for it
        for key, sub, name, flags in self._listing():
            if key == ref:
                self._mark(ref, sub, name, flags)
                return
        raise KeyError(f"no message {ref!r} in {self.path}")

    def _mark(self, ref: str, sub: str, name: str, flags: str) -> None:
        if sub == "cur" and PROCESSED_FLAG in flags:
            return
        target = f"{ref}{self._colon}2,{''.join(sorted(set(flags) | {PROCESSED_FLAG}))}"
        os.rename(self.path / sub / name, self.path / "cur" / target)

    def deliver(self, raw: bytes, name: str | None = None) -> str:
        """Put a message into new/ and return its ref: how `coachd simulate` hands its scripted replies
        to the embedded inbox (not part of the Inbox role: real mail arrives by the mail system).

        With a `name`, delivering the same name again returns the existing ref and adds nothing.
        """
        if name is None:
            return self._maildir.add(raw)
        ref = _safe_key(name)
        if any(key == ref for key, *_ in self._listing()):
            return ref
        # The Maildir way: write in tmp/, then link into new/ (atomic, fails if the name exists).
        temp = self.path / "tmp" / f"{ref}.{os.getpid()}"
        with open(temp, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, self.path / "new" / ref)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        finally:
            os.unlink(temp)
        return ref

    def _listing(self) -> list[tuple[str, str, str, str]]:
        """(ref, subdir, file name, flags) for every message, oldest file first."""
        found = []
        for sub in ("new", "cur"):
            with os.scandir(self.path / sub) as it:
                for item in it:
                    if item.name.startswith(".") or not item.is_file():
                        continue
                    ref, _, info = item.name.partition(self._colon)
                    flags = info[2:] if info.startswith("2,") else ""
                    try:
                        mtime = item.stat().st_mtime_ns
                    except FileNotFoundError:
                        continue
                    found.append((mtime, ref, sub, item.name, flags))
        found.sort()
        return [entry[1:] for entry in found]


def _safe_key(name: str) -> str:
    """A Maildir key from a caller's name: percent-encoded (no '/', no ':', no two names alike), not hidden."""
    if not name:
        raise ValueError("a message name cannot be empty")
    key = quote(name, safe="._+=@-")
    return "%2E" + key[1:] if key.startswith(".") else key
