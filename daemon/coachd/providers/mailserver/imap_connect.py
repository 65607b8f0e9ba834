"""Opening an IMAP connection with the TLS a config asks for: the one place the inbox and the Sent folder share."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from imapclient import IMAPClient

Tls = Literal["implicit", "starttls", "none"]


def open_client(host: str, port: int | None, tls: Tls, *, ssl_context: ssl.SSLContext | None,
                ca_file: Path | None, timeout: float) -> IMAPClient:
    """A connected, not yet logged-in client; the server's certificate is checked against the system's
    CAs or `ca_file` unless a context is given (tests). Raises what imapclient and ssl raise."""
    context = ssl_context or ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if tls == "implicit":
        return IMAPClient(host, port, ssl=True, ssl_context=context, timeout=timeout)
    client = IMAPClient(host, port, ssl=False, timeout=timeout)
    if tls == "starttls":
        client.starttls(context)
    return client
