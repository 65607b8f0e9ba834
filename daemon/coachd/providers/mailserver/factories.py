"""Builds the mailserver family's providers, refusing settings `run` could not work with (imported on use)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING

from coachd.providers.family import ProviderRefused

if TYPE_CHECKING:
    from coachd.providers.mailserver.family import SentFolderSection
    from coachd.providers.mailserver.imap import ImapInbox
    from coachd.providers.mailserver.sent_folder import SentFolder
    from coachd.providers.mailserver.smtp import SmtpSender

# Each factory imports its own provider when called: a program that sends by smtp never loads
# imapclient, and the other way round.


def smtp_sender(state_dir: Path, host: str, port: int | None = None, tls: str = "starttls",
                username: str | None = None, password_env: str | None = None,
                sent_folder: SentFolderSection | None = None) -> SmtpSender:
    from coachd.providers.mailserver.smtp import SmtpSender

    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise ProviderRefused("send", "password_env", f"the environment variable {password_env} is not set "
                                  "in this environment; the smtp sender reads its password from it")
    # A relay without AUTH may be plain (an internal relay); a login over the network never is.
    if tls == "none" and (username or password_env) and not _loopback(host):
        raise ProviderRefused("send", "tls", f"none would send the login to {host} in clear; use starttls or "
                              "implicit, or tls: none only for a server on this machine (localhost, 127.0.0.1, ::1)")
    return SmtpSender(host, port, tls=tls, username=username, password=password,  # type: ignore[arg-type]
                      sent_folder=_sent_folder(sent_folder) if sent_folder is not None else None)


def _sent_folder(section: SentFolderSection) -> SentFolder:
    """The smtp sender's Sent folder lookup, refused as the imap inbox is for the same mistakes."""
    from coachd.providers.mailserver.sent_folder import SentFolder

    password = os.environ.get(section.password_env)
    if password is None:
        raise ProviderRefused("send", "sent_folder.password_env", f"the environment variable {section.password_env} "
                              "is not set in this environment; the sent folder lookup reads its password from it")
    if section.tls == "none" and not _loopback(section.host):
        raise ProviderRefused("send", "sent_folder.tls", f"none would send the password to {section.host} in clear; "
                              "it is only for a server on this machine (localhost, 127.0.0.1, ::1)")
    if section.ca_file is not None and not Path(section.ca_file).is_file():
        raise ProviderRefused("send", "sent_folder.ca_file", f"file not found: {section.ca_file}")
    return SentFolder(section.host, section.port, tls=section.tls, username=section.username, password=password,
                      folder=section.folder, ca_file=Path(section.ca_file) if section.ca_file else None)


def imap_inbox(state_dir: Path, host: str, port: int | None = None, tls: str = "implicit",
               username: str | None = None, password_env: str | None = None, folder: str = "INBOX",
               processed_folder: str | None = None, ca_file: str | Path | None = None) -> ImapInbox:
    from coachd.providers.mailserver.imap import ImapInbox

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
