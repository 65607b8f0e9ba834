"""Builds providers from the config's `provider:` names."""

from __future__ import annotations

import inspect
import ipaddress
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coachd.providers.base import (
    CalendarProvider,
    Inbox,
    MailSender,
    ProviderUnavailable,
    UnknownProvider,
)
from coachd.providers.local.file_sender import FileSender
from coachd.providers.mailserver.imap import ImapInbox
from coachd.providers.local.calendar import LocalCalendar
from coachd.providers.local.maildir import MaildirInbox
from coachd.providers.mailserver.smtp import SmtpSender

# Every name the config may use, implemented or not (config validation can offer these).
CALENDAR_PROVIDERS = ("local", "google", "outlook")
SEND_PROVIDERS = ("file", "smtp", "gmail", "outlook")
RECEIVE_PROVIDERS = ("maildir", "imap", "gmail", "outlook")


class ProviderRefused(ProviderUnavailable):
    """A provider `coachd run` cannot start, naming the setting of `organizer.<role>` at fault
    (`provider` itself, or an option), so that `coachd check` reports it as `field.path: message`."""

    def __init__(self, role: str, option: str, reason: str) -> None:
        self.field = f"organizer.{role}.{option}"
        self.reason = reason
        super().__init__(f"{self.field}: {reason}")


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
            raise ProviderRefused("send", "password_env", f"the environment variable {password_env} is not set "
                                  "in this environment; the smtp sender reads its password from it")
    return SmtpSender(host, port, tls=tls, username=username, password=password)  # type: ignore[arg-type]


def _imap(state_dir: Path, host: str, port: int | None = None, tls: str = "implicit", username: str | None = None,
          password_env: str | None = None, folder: str = "INBOX", processed_folder: str | None = None,
          ca_file: str | Path | None = None) -> ImapInbox:
    # IMAP has no anonymous reading: a login is part of the config, not an option.
    if not username:
        raise ProviderRefused("receive", "username", "required: the imap inbox logs in with it")
    if not password_env:
        raise ProviderRefused("receive", "password_env", "required: the environment variable holding the "
                              "imap password")
    password = os.environ.get(password_env)
    if password is None:
        raise ProviderRefused("receive", "password_env", f"the environment variable {password_env} is not set "
                              "in this environment; the imap inbox reads its password from it")
    if tls == "none" and not _loopback(host):
        raise ProviderRefused("receive", "tls", f"none would send the password to {host} in clear; it is only "
                              "for a server on this machine (localhost, 127.0.0.1, ::1)")
    if processed_folder is not None and processed_folder == folder:
        raise ProviderRefused("receive", "processed_folder", f"must differ from folder ({folder})")
    if ca_file is not None and not Path(ca_file).is_file():
        raise ProviderRefused("receive", "ca_file", f"file not found: {ca_file}")
    return ImapInbox(host, port, tls=tls, username=username, password=password,  # type: ignore[arg-type]
                     state_dir=Path(state_dir), folder=folder, processed_folder=processed_folder,
                     ca_file=Path(ca_file) if ca_file else None)


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_CALENDARS: dict[str, Callable[..., CalendarProvider]] = {"local": _local}
_SENDERS: dict[str, Callable[..., MailSender]] = {"file": _file, "smtp": _smtp}
_INBOXES: dict[str, Callable[..., Inbox]] = {"maildir": _maildir, "imap": _imap}
# By the organizer block that names them: organizer.calendar, organizer.send, organizer.receive.
_ROLES: dict[str, tuple[tuple[str, ...], dict[str, Callable[..., Any]]]] = {
    "calendar": (CALENDAR_PROVIDERS, _CALENDARS),
    "send": (SEND_PROVIDERS, _SENDERS),
    "receive": (RECEIVE_PROVIDERS, _INBOXES),
}


def provider(role: str, name: str, state_dir: Path, **options: Any) -> Any:
    """The provider `organizer.<role>.provider` names, built with `options`.

    Factories only check and keep their settings: they open no connection (a provider connects
    when first used), which is what lets `coachd check` build them to see what `run` would refuse.
    """
    known, factories = _ROLES[role]
    return _build(role, name, known, factories, state_dir, options)


def accepted_options(role: str, name: str) -> frozenset[str] | None:
    """The options the `name` provider for `role` takes (beyond the state directory); None when
    this version has no such provider."""
    factory = _ROLES[role][1].get(name)
    if factory is None:
        return None
    return frozenset(list(inspect.signature(factory).parameters)[1:])


def calendar_provider(name: str, state_dir: Path, **options: Any) -> CalendarProvider:
    """The calendar named by `organizer.calendar.provider`; `local` keeps files in <state_dir>/calendar."""
    return _build("calendar", name, CALENDAR_PROVIDERS, _CALENDARS, state_dir, options)


def mail_sender(name: str, state_dir: Path, **options: Any) -> MailSender:
    """The sender named by `organizer.send.provider`; `file` writes .eml files to <state_dir>/mail."""
    return _build("send", name, SEND_PROVIDERS, _SENDERS, state_dir, options)


def inbox(name: str, state_dir: Path, **options: Any) -> Inbox:
    """The inbox named by `organizer.receive.provider`; `maildir` reads <state_dir>/inbox, `imap` keeps
    the folder's last UIDVALIDITY in <state_dir>/imap-<hash>.json."""
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
            raise ProviderRefused(
                role, "provider",
                f"{name!r} is not available in this version of coachd; available: {', '.join(sorted(factories))}",
            )
        raise UnknownProvider(f"unknown {role} provider {name!r}; known: {', '.join(known)}")
    # Check options against the factory's signature, so a typo is reported as such and a
    # TypeError from inside a constructor is never mistaken for one.
    try:
        inspect.signature(factory).bind(state_dir, **options)
    except TypeError as exc:
        raise UnknownProvider(f"{role} provider {name!r}: {exc}") from exc
    return factory(state_dir, **options)
