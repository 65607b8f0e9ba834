"""Asking an IMAP Sent folder whether a message went out, by its Message-ID, for the smtp sender.

Used only after a crash left an email's send unknown (execute/outbox.py), so each lookup opens its
own short connection. It is only as good as the folder: it answers "not sent" for a message that
went out but was never filed there, so `sent_folder` is for servers that file each message sent over
SMTP into the folder by themselves (Gmail, Microsoft 365 and many hosted services do; a plain
Postfix with Dovecot does not). coachd does not append to the folder itself: an append after the
send would have the same crash window as the outbox's own mark, and tell nothing more.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from coachd.providers.mailserver.imap_connect import Tls, open_client

log = logging.getLogger("coachd.smtp")

DEFAULT_PORTS = {"implicit": 993, "starttls": 143, "none": 143}


class SentFolder:
    def __init__(self, host: str, port: int | None = None, *, tls: Tls = "implicit", username: str, password: str,
                 folder: str = "Sent", ca_file: Path | None = None, ssl_context: ssl.SSLContext | None = None,
                 timeout: float = 30.0) -> None:
        self.host, self.port, self.tls = host, port or DEFAULT_PORTS[tls], tls
        self.username, self.password, self.folder = username, password, folder
        self.ca_file, self.ssl_context, self.timeout = ca_file, ssl_context, timeout

    def holds(self, message_id: str) -> bool | None:
        """Whether the folder holds a message with this Message-ID; None when it cannot be asked
        (unreachable, login refused, no such folder): the caller must not take that as "not sent"."""
        try:
            client = self._connect()
        except (IMAPClientError, OSError) as error:
            log.warning("sent folder %s:%s: cannot ask about %s: %s", self.host, self.port, message_id, error)
            return None
        try:
            client.select_folder(self.folder, readonly=True)
            # Message-IDs are quoted as a string search key; the angle brackets are part of the value.
            return bool(client.search(["HEADER", "Message-ID", message_id]))
        except (IMAPClientError, OSError) as error:
            log.warning("sent folder %s:%s %s: cannot ask about %s: %s", self.host, self.port, self.folder,
                        message_id, error)
            return None
        finally:
            try:
                client.logout()
            except (IMAPClientError, OSError):
                pass

    def _connect(self) -> IMAPClient:
        client = open_client(self.host, self.port, self.tls, ssl_context=self.ssl_context, ca_file=self.ca_file,
                             timeout=self.timeout)
        try:
            client.login(self.username, self.password)
        except BaseException:
            try:
                client.shutdown()
            except OSError:
                pass
            raise
        return client
