"""The `outlook` sender: the outbox's stored bytes sent as they are through Graph's sendMail (MIME, base64),
and never a second copy of a send whose answer was lost where Sent Items can tell.

sendMail answers 202 Accepted: Exchange has taken the message for delivery, not delivered it (a bounce
comes later, as mail to the mailbox). coachd counts 202 as sent, as SMTP counts 250.

sendMail has no idempotency key (events have transactionId, mail has nothing), so what a lost answer
(a timeout, a dropped connection, a 5xx after Exchange may have acted) leaves behind is a doubt,
written down before the request leaves (`attempts` in the state file). The next try of that outbox
key first asks Sent Items for the message's internetMessageId (Exchange keeps the MIME's Message-ID):
found, it is not sent again; absent, it is; unanswerable (no Mail.Read permission, Graph down), it is
sent again and the doubt is logged, as SMTP would. Exchange files the sent copy after it submits the
message, so "absent" counts only once the attempt is `search_settle` old or Sent Items was asked in
vain three times; before that the try is put off (TransientSendError).

A request over Graph's ~4 MB limit is refused before it leaves (PermanentSendError naming the size):
coachd's mail is text and an .ics, far below it; an upload session for large attachments is not built.
"""

from __future__ import annotations

import base64
import email.message
import hashlib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from coachd.mail.headers import UNFOLDED
from coachd.providers.base import (
    CredentialsExpired,
    MailSender,
    PermanentSendError,
    ProviderError,
    SmtpEnvelope,
    Throttled,
    Transient,
    TransientSendError,
)
from coachd.providers.google.state_file import StateFile, remember  # the provider-neutral state file
from coachd.providers.microsoft.client import GraphApiError, GraphClient
from coachd.providers.retry import RetryPolicy

log = logging.getLogger("coachd.microsoft")

# sendMail's limit per request (413 beyond). The body is the base64 of the MIME bytes.
MAX_REQUEST_BYTES = 4 * 1024 * 1024
# A send is never retried inside one call (a retry could be the duplicate): the outbox retries it
# on its own schedule, after asking Sent Items where the first try left it.
ONE_TRY = RetryPolicy(attempts=1)
SEARCH_SETTLE = timedelta(minutes=5)
SEARCH_MISSES = 3
SENT_KEPT = 2_000
# Throttled covers 429, 503 and 504; only a 429 surely means "not carried out" (a gateway timeout may
# come after Exchange took the message). The client's message names the status it mapped.
_REFUSED_BEFORE_ACTING = re.compile(r"Graph answered 429\b")


class OutlookThrottled(TransientSendError, Throttled):
    """Graph asked to slow down: a TransientSendError the outbox's backoff reads the retry-after of."""


class OutlookSender(MailSender):
    def __init__(self, client: GraphClient, *, state_dir: Path,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 search_settle: timedelta = SEARCH_SETTLE) -> None:
        self.client = client
        self.clock = clock
        self.search_settle = search_settle
        digest = hashlib.sha256(client.mailbox.lower().encode()).hexdigest()[:16]
        self.state = StateFile(Path(state_dir) / f"outlook-send-{digest}.json")
        self._read_refused = False  # the credentials cannot read mail: was_sent cannot ask

    # --- MailSender ---------------------------------------------------------------------------------

    def send(self, message: email.message.EmailMessage, key: str) -> None:
        self.send_raw(message.as_bytes(policy=UNFOLDED), key)

    def send_raw(self, raw: bytes, key: str, envelope: SmtpEnvelope | None = None) -> None:
        """Exchange sends to the message's own To, Cc and Bcc (the envelope is not Graph's to take)."""
        body = base64.b64encode(raw)
        if len(body) > MAX_REQUEST_BYTES:
            raise PermanentSendError(f"{key}: the message is {len(raw)} bytes ({len(body)} in base64), over "
                                     f"Graph sendMail's limit of {MAX_REQUEST_BYTES} bytes per request")
        message_id = _message_id(raw)
        state = self.state.read()
        if key in state.get("sent", {}):
            log.info("outlook send %s: already sent; not sent again", key)
            return
        if key in state.get("attempts", {}) and not self._send_again(key, message_id):
            return
        self._post(body, key, message_id, len(raw))
        with self.state.changing() as changing:
            changing.get("attempts", {}).pop(key, None)
            remember(changing.setdefault("sent", {}), key, message_id or "", SENT_KEPT)
        log.info("outlook send %s: accepted by Exchange (202) as %s", key, message_id)

    def close(self) -> None:
        """Nothing to release: each send is its own HTTP request."""

    def was_sent(self, message_id: str, key: str) -> bool | None:
        """True when Sent Items holds the message, False when it does not (and had time to file it),
        None when it cannot tell: no permission to read mail, Graph unreachable, or too soon to say."""
        state = self.state.read()
        if key in state.get("sent", {}):
            return True
        found = self._in_sent_items(message_id)
        if found is None or found:
            return found
        if state.get("attempts", {}).get(key) is None:
            return False
        with self.state.changing() as changing:
            attempt = changing.get("attempts", {}).get(key)
            if attempt is None:
                return False
            misses = int(attempt[2]) + 1 if len(attempt) > 2 else 1
            attempt[2:] = [misses]
        # Exchange files the sent copy once it has submitted the message: "absent" counts once the
        # attempt is old enough, or after a few lookups in a row (a virtual clock may not move between).
        if self.clock() - datetime.fromisoformat(attempt[1]) >= self.search_settle or misses >= SEARCH_MISSES:
            return False
        return None

    # --- Graph ---------------------------------------------------------------------------------------

    def _post(self, body: bytes, key: str, message_id: str | None, size: int) -> None:
        with self.state.changing() as changing:
            # Written down before the request leaves: a crash or a lost answer from here on is a doubt.
            remember(changing.setdefault("attempts", {}), key, [message_id, self.clock().isoformat(), 0], SENT_KEPT)
        try:
            self.client.request("POST", f"{self.client.users_path}/sendMail", body=body,
                                headers={"Content-Type": "text/plain"}, what=f"sendMail of {key}", policy=ONE_TRY)
        except CredentialsExpired as error:
            self._forget_attempt(key)  # refused before anything was sent
            error.role = error.role or "send"
            raise
        except Throttled as error:
            if _REFUSED_BEFORE_ACTING.search(str(error)):
                self._forget_attempt(key)
            else:
                log.info("outlook send %s: the outcome is unknown (%s); the next try asks Sent Items first", key, error)
            raise OutlookThrottled(str(error), error.retry_after) from error
        except Transient as error:
            # A timeout, a dropped connection or a 5xx: Exchange may have taken it.
            log.info("outlook send %s: the outcome is unknown (%s); the next try asks Sent Items first", key, error)
            raise TransientSendError(str(error)) from error
        except GraphApiError as error:
            self._forget_attempt(key)
            if error.status == 403:
                # No right to send as this mailbox (Mail.Send not consented, an access policy): a person
                # must fix the app's permissions; the mail waits.
                raise CredentialsExpired(f"Graph refused to send for {self.client.mailbox}: {error}",
                                         role="send") from error
            if error.status == 413:
                raise PermanentSendError(f"{key}: Graph refused the message of {size} bytes as too large for "
                                         f"sendMail: {error}") from error
            raise PermanentSendError(str(error)) from error

    def _send_again(self, key: str, message_id: str | None) -> bool:
        """An earlier try of `key` may have gone out: whether to send now (True) or not (False: it
        arrived, recorded as sent). Raises TransientSendError while Sent Items cannot tell yet."""
        if message_id is None:
            log.warning("outlook send %s: an earlier try may have gone out and the message has no Message-ID to "
                        "look for; sending it again (it may arrive twice)", key)
            return True
        arrived = self.was_sent(message_id, key)
        if arrived:
            with self.state.changing() as changing:
                changing.get("attempts", {}).pop(key, None)
                remember(changing.setdefault("sent", {}), key, message_id, SENT_KEPT)
            log.info("outlook send %s: the earlier try had gone out (found in Sent Items); not sent again", key)
            return False
        if arrived is None and not self._read_refused:
            raise TransientSendError(f"{key}: an earlier try may have gone out and Sent Items cannot say yet "
                                     "whether it did; trying again later")
        if arrived is None:
            log.warning("outlook send %s: an earlier try may have gone out and coachd may not read Sent Items; "
                        "sending it again (it may arrive twice)", key)
        return True

    def _in_sent_items(self, message_id: str) -> bool | None:
        """Whether Sent Items holds a message with this internetMessageId; None when Graph cannot be asked."""
        wanted = message_id.strip()
        if not wanted.strip("<>"):
            return None
        if not wanted.startswith("<"):
            wanted = f"<{wanted}>"
        literal = wanted.replace("'", "''")
        try:
            answer: dict[str, Any] = self.client.json(
                "GET", f"{self.client.users_path}/mailFolders/sentitems/messages",
                params={"$filter": f"internetMessageId eq '{literal}'", "$select": "id,internetMessageId",
                        "$top": "1"}, what=f"Sent Items lookup of {wanted}") or {}
        except GraphApiError as error:
            if error.status == 403 and not self._read_refused:
                self._read_refused = True
                log.warning("outlook: cannot look in Sent Items (%s); grant Mail.Read besides Mail.Send so that a "
                            "send whose answer was lost is never sent twice", error)
            return None
        except ProviderError as error:
            log.info("outlook: could not look in Sent Items for %s: %s", wanted, error)
            return None
        return bool(answer.get("value"))

    def _forget_attempt(self, key: str) -> None:
        with self.state.changing() as changing:
            changing.get("attempts", {}).pop(key, None)


def _message_id(raw: bytes) -> str | None:
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    headers = BytesHeaderParser().parsebytes(raw if end < 0 else raw[:end + 2])
    value = " ".join(str(headers.get("Message-ID") or "").split())
    start, stop = value.find("<"), value.find(">")
    return value[start:stop + 1] if 0 <= start < stop else (value or None)


def outlook_sender(state_dir: Path, *, section: Any, credential_store: Any = None,
                   organizer_email: str | None = None) -> OutlookSender:
    """The `send: {provider: outlook}` sender: sendMail from the section's mailbox (default: the
    organizer's). Permission Mail.Send; with Mail.Read too (app-only access granted Mail.ReadWrite
    has it), a send whose answer was lost is looked for in Sent Items instead of possibly going out
    twice. Opens no connection (the first send gets the first token)."""
    from coachd.providers.microsoft.connect import graph_client

    client = graph_client(section, "send", credential_store=credential_store, organizer_email=organizer_email)
    return OutlookSender(client, state_dir=Path(state_dir))
