"""Builds providers from the config's `provider:` names."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.providers.base import (
    CalendarProvider,
    Inbox,
    MailSender,
    ProviderUnavailable,
    UnknownProvider,
)
from daemon.providers.file_sender import FileSender
from daemon.providers.local_calendar import LocalCalendar
from daemon.providers.maildir_inbox import MaildirInbox
from daemon.providers.smtp_sender import SmtpSender

# Every name the config may use, implemented or not (config validation can offer these).
CALENDAR_PROVIDERS = ("local", "google", "outlook")
SEND_PROVIDERS = ("file", "smtp", "gmail", "outlook")
RECEIVE_PROVIDERS = ("maildir", "imap", "gmail", "outlook")


def _local(state_dir: Path, folder: str | Path | None = None) -> LocalCalendar:
    return LocalCalendar(Path(folder) if folder else Path(state_dir) / "calendar")


def _file(state_dir: Path, folder: str | Path | None = None) -> FileSender:
    return FileSender(Path(folder) if folder else Path(state_dir) / "mail")


def _maildir(state_dir: Path, path: str | Path | None = None) -> MaildirInbox:
    return MaildirInbox(Path(path) if path else Path(state_dir) / "inbox")


def _smtp(state_dir: Path, host: str, port: int | None = None, tls: str = "starttls",
          username: str | None = None, password_env: str | None = None) -> SmtpSender:
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise ProviderUnavailable(f"send provider 'smtp': the environment variable {password_env} "
                                      "(organizer.send.password_env) is not set")
    return SmtpSender(host, port, tls=tls, username=username, password=password)  # type: ignore[arg-type]


_CALENDARS: dict[str, Callable[..., CalendarProvider]] = {"local": _local}
_SENDERS: dict[str, Callable[..., MailSender]] = {"file": _file, "smtp": _smtp}
_INBOXES: dict[str, Callable[..., Inbox]] = {"maildir": _maildir}


def unavailable(calendar: str, send: str, receive: str) -> list[tuple[str, str]]:
    """(config field, message) for each named provider this version cannot run: `check` reports
    what `run` would refuse, before anyone starts the daemon."""
    problems = []
    for field, name, factories in (("organizer.calendar.provider", calendar, _CALENDARS),
                                   ("organizer.send.provider", send, _SENDERS),
                                   ("organizer.receive.provider", receive, _INBOXES)):
        if name not in factories:
            problems.append((field, f"{name!r} is not available in this version of coachd; "
                                    f"available: {', '.join(sorted(factories))}"))
    return problems


def calendar_provider(name: str, state_dir: Path, **options: Any) -> CalendarProvider:
    """The calendar named by `organizer.calendar.provider`; `local` keeps files in <state_dir>/calendar."""
    return _build("calendar", name, CALENDAR_PROVIDERS, _CALENDARS, state_dir, options)


def mail_sender(name: str, state_dir: Path, **options: Any) -> MailSender:
    """The sender named by `organizer.send.provider`; `file` writes .eml files to <state_dir>/mail."""
    return _build("send", name, SEND_PROVIDERS, _SENDERS, state_dir, options)


def inbox(name: str, state_dir: Path, **options: Any) -> Inbox:
    """The inbox named by `organizer.receive.provider`; `maildir` reads <state_dir>/inbox."""
    return _build("receive", name, RECEIVE_PROVIDERS, _INBOXES, state_dir, options)


def _build(
    role: str,
    name: str,
    known: tuple[str, ...],
    factories: dict[str, Callable[..., Any]],
    state_dir: Path,
    options: dict[str, Any],
) -> Any:
    factory = factories.get(name)
    if factory is None:
        if name in known:
            raise ProviderUnavailable(
                f"{role} provider {name!r} is not available in this version of coachd; "
                f"available: {', '.join(sorted(factories))}"
            )
        raise UnknownProvider(f"unknown {role} provider {name!r}; known: {', '.join(known)}")
    # Check options against the factory's signature, so a typo is reported as such and a
    # TypeError from inside a constructor is never mistaken for one.
    try:
        inspect.signature(factory).bind(state_dir, **options)
    except TypeError as exc:
        raise UnknownProvider(f"{role} provider {name!r}: {exc}") from exc
    return factory(state_dir, **options)
