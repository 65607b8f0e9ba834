"""The `smtp` mail sender: one connection reused across a batch, TLS (implicit or STARTTLS), AUTH.

What an SMTP server answers decides what the outbox does with a message: 5xx is
permanent (marked failed, shown by `coachd status`), 4xx and dropped connections
are transient (retried with backoff). A connection that dropped is opened again
once, right away, before the message is given up for this round.
"""

from __future__ import annotations

import email.message
import email.policy
import logging
import re
import smtplib
import ssl
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING

from coachd.mail.headers import UNFOLDED
from coachd.providers.base import SmtpEnvelope, MailSender, PermanentSendError, TransientSendError

if TYPE_CHECKING:  # only for types: building an SMTP sender never imports an IMAP client
    from coachd.providers.mailserver.imap_connect import Tls
    from coachd.providers.mailserver.sent_folder import SentFolder

log = logging.getLogger("coachd.smtp")

BARE_LF = re.compile(rb"\r?\n")
DEFAULT_PORTS = {"implicit": 465, "starttls": 587, "none": 25}


class SmtpSender(MailSender):
    def __init__(self, host: str, port: int | None = None, *, tls: Tls = "starttls", username: str | None = None,
                 password: str | None = None, timeout: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None, sent_folder: SentFolder | None = None) -> None:
        if tls not in DEFAULT_PORTS:
            raise ValueError(f"tls must be one of {', '.join(DEFAULT_PORTS)}, not {tls!r}")
        self.host = host
        self.port = port or DEFAULT_PORTS[tls]
        self.tls = tls
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._connection: smtplib.SMTP | None = None
        self.connections_opened = 0  # for tests and logs: reuse is the point
        # Where the server files what it sent, when it does (see sent_folder.py): what `was_sent` asks.
        self.sent_folder = sent_folder

    # --- MailSender ----------------------------------------------------------------------------

    def send(self, message: email.message.EmailMessage, key: str) -> None:
        self.send_raw(message.as_bytes(policy=UNFOLDED), key)

    def send_raw(self, raw: bytes, key: str, envelope: SmtpEnvelope | None = None) -> None:
        # SMTP lines end in CRLF; a bare LF is refused by careful servers (it is how smuggling works).
        if raw.count(b"\n") != raw.count(b"\r\n"):
            raw = BARE_LF.sub(b"\r\n", raw)
        sender, recipients = envelope if envelope is not None else envelope_of(raw)
        recipients = list(recipients)
        if not recipients:
            raise PermanentSendError(f"{key}: the message has no recipient (To, Cc or Bcc)")
        for attempt in (1, 2):
            try:
                refused = self._open().sendmail(sender, recipients, raw)
            except (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError) as error:
                self._discard()
                if attempt == 2:
                    raise TransientSendError(f"{self.host}: connection lost: {error}") from error
                log.info("smtp %s: connection lost (%s); reconnecting", self.host, error)
                continue
            except smtplib.SMTPRecipientsRefused as error:
                raise _by_codes(error.recipients.values(), "recipients refused") from error
            except smtplib.SMTPAuthenticationError as error:
                # The login is the admin's to fix; the mail is not lost meanwhile.
                self._discard()
                raise TransientSendError(f"{self.host}: login refused: {error.smtp_code} {_text(error)}") from error
            except smtplib.SMTPResponseException as error:
                if error.smtp_code == 421:  # the server is closing the connection
                    self._discard()
                raise _by_codes([(error.smtp_code, error.smtp_error)], "refused") from error
            except (smtplib.SMTPException, OSError) as error:
                self._discard()
                raise TransientSendError(f"{self.host}: {type(error).__name__}: {error}") from error
            if refused:
                log.warning("smtp %s: %s accepted for some recipients only; refused: %s", self.host, key,
                            ", ".join(f"{a} ({c})" for a, (c, _) in refused.items()))
            return

    def was_sent(self, message_id: str, key: str) -> bool | None:
        """SMTP itself cannot say; the configured Sent folder can, where the server files into it."""
        return None if self.sent_folder is None else self.sent_folder.holds(message_id)

    def close(self) -> None:
        """End the batch: QUIT politely, whatever state the connection is in."""
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._connection = None

    # --- connection ----------------------------------------------------------------------------

    def _open(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.tls == "implicit":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                            context=context)
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                connection.ehlo()
                if self.tls == "starttls":
                    connection.starttls(context=context)
                    connection.ehlo()
            if self.username:
                connection.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError:
            raise
        except smtplib.SMTPNotSupportedError as error:
            raise TransientSendError(f"{self.host}:{self.port}: {error} (check `tls:`)") from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransientSendError(f"cannot connect to {self.host}:{self.port}: {error}") from error
        self.connections_opened += 1
        self._connection = connection
        return connection

    def _discard(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except OSError:
                pass
            self._connection = None


def envelope_of(raw: bytes) -> tuple[str, list[str]]:
    """The SMTP envelope from a message's headers: its From address, and every To, Cc and Bcc."""
    end = raw.find(b"\r\n\r\n")
    block = raw if end < 0 else raw[:end + 2]  # the header block is all the envelope needs
    headers = BytesHeaderParser().parsebytes(block)  # compat32: enough for addresses, and fast
    sender = parseaddr(str(headers.get("From", "")))[1]
    fields = [str(value) for name in ("To", "Cc", "Bcc") for value in headers.get_all(name, [])]
    recipients = []
    for _, address in getaddresses(fields):
        if address and address not in recipients:
            recipients.append(address)
    return sender, recipients


def _text(error: smtplib.SMTPResponseException) -> str:
    message = error.smtp_error
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


def _by_codes(answers, what: str) -> Exception:  # type: ignore[no-untyped-def]
    """Permanent only when every answer was a 5xx: one 4xx means trying again may work."""
    answers = list(answers)
    codes = [code for code, _ in answers]
    detail = "; ".join(f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                       for code, msg in answers)
    if codes and all(500 <= code < 600 for code in codes):
        return PermanentSendError(f"{what}: {detail}")
    return TransientSendError(f"{what}: {detail}")
