"""Builds the local family's providers in the state directory (imported only when a program uses one)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coachd.providers.local.calendar import LocalCalendar
    from coachd.providers.local.file_sender import FileSender
    from coachd.providers.local.maildir import MaildirInbox

# Each factory imports its own provider when called, so asking for one loads no other.


def local_calendar(state_dir: Path, folder: str | Path | None = None) -> LocalCalendar:
    from coachd.providers.local.calendar import LocalCalendar

    return LocalCalendar(Path(folder) if folder else Path(state_dir) / "calendar")


def file_sender(state_dir: Path, folder: str | Path | None = None) -> FileSender:
    from coachd.providers.local.file_sender import FileSender

    return FileSender(Path(folder) if folder else Path(state_dir) / "mail")


def maildir_inbox(state_dir: Path, path: str | Path | None = None) -> MaildirInbox:
    from coachd.providers.local.maildir import MaildirInbox

    return MaildirInbox(Path(path) if path else Path(state_dir) / "inbox")
