"""The `gmail` sender: the outbox's stored bytes sent as they are through Gmail's messages.send, one
Gmail thread per series, person and subject, and never a second copy of a send whose answer was lost.

Gmail's messages.send has no idempotency key, so what a lost answer (a timeout, a dropped connection,
a 5xx after Google may have acted) leaves behind is a doubt, written down before the send goes out
(`attempts` in the state file). The next try of that outbox key first asks Gmail whether the message
is in Sent (messages.list q="rfc822msgid:<id>", which needs a read scope besides gmail.send): found,
it is not sent again; absent, it is; unanswerable, it is sent again and the doubt is logged, as SMTP
would. A search right after the send may miss a message Gmail's index has not reached yet, so "absent"
counts only once the attempt is `search_settle` old or Sent was searched in vain three times; before
that the try is put off (Transient).

Threading (why a state file): Gmail puts a sent message in a thread only when the request names the
threadId *and* the message's References/In-Reply-To and Subject match that thread. coachd's mail of
one series refers to one root Message-ID (mail/headers.py), but each kind has its own subject, so
the most Gmail can keep together is one thread per series root, recipient and subject: that is the
key under which the threadId Gmail answered is kept. Nothing in a message says which Gmail thread it
belongs to and Gmail's search cannot find mail by References, so the ids are coachd's own record
(state_dir/gmail-send-*.json, small and bounded; losing it only starts new threads).
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
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from googleapiclient.discovery import Resource

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
from coachd.providers.google.client import DEFAULT_API_ROOT, DEFAULT_TIMEOUT_SECONDS, GoogleApiError, execute
from coachd.providers.google.gmail_service import GMAIL_READONLY, GMAIL_SEND, gmail_service
from coachd.providers.google.state_file import StateFile, remember
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger("coachd.gmail")

# A send is never retried inside one call (a retry could be the duplicate): the outbox retries it
# on its own schedule, after asking Gmail where the first try left it.
ONE_TRY = RetryPolicy(attempts=1)
SEARCH_SETTLE = timedelta(minutes=5)
SEARCH_MISSES = 3
THREADS_KEPT = 5_000
SENT_KEPT = 2_000
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv|wg)\s*:\s*)+", re.IGNORECASE)


class GmailThrottled(TransientSendError, Throttled):
    """Gmail asked to slow down: a TransientSendError the outbox's backoff reads the retry-after of."""


class GmailSender(MailSender):
    def __init__(self, service: Resource, *, state_dir: Path, user: str = "me", policy: RetryPolicy = DEFAULT_POLICY,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 search_settle: timedelta = SEARCH_SETTLE) -> None:
        self.service = service
        self.user = user
        # For lookups (labels, Sent): safe to repeat. The send itself is tried once per call.
        self.policy = policy
        self.clock = clock
        self.search_settle = search_settle
        digest = hashlib.sha256(user.lower().encode()).hexdigest()[:16]
        self.state = StateFile(Path(state_dir) / f"gmail-send-{digest}.json")
        self._read_refused = False  # the credentials carry no read scope: was_sent cannot ask

    # --- MailSender ---------------------------------------------------------------------------------

    def send(self, message: email.message.EmailMessage, key: str) -> None:
        self.send_raw(message.as_bytes(policy=UNFOLDED), key)

    def send_raw(self, raw: bytes, key: str, envelope: SmtpEnvelope | None = None) -> None:
        """Gmail sends to the message's own To, Cc and Bcc; the envelope only names the thread's person."""
        headers = _headers(raw)
        message_id = _first_id(headers.get("Message-ID", ""))
        state = self.state.read()
        if key in state.get("sent", {}):
            log.info("gmail send %s: already sent (Gmail id %s); not sent again", key, state["sent"][key])
            return
        if key in state.get("attempts", {}) and not self._send_again(key, message_id):
            return
        thread_key = _thread_key(headers, envelope)
        thread_id = state.get("threads", {}).get(thread_key)
        try:
            answer = self._post(raw, thread_id, key, message_id)
        except GoogleApiError as error:
            if error.status == 404 and thread_id is not None:
                # The thread was deleted in Gmail since: a new one starts with this message.
                log.info("gmail send %s: thread %s is gone; starting a new one", key, thread_id)
                answer = self._post(raw, None, key, message_id)
            else:
                raise
        with self.state.changing() as changing:
            changing.get("attempts", {}).pop(key, None)
            remember(changing.setdefault("sent", {}), key, answer.get("id"), SENT_KEPT)
            if answer.get("threadId"):
                remember(changing.setdefault("threads", {}), thread_key, answer["threadId"], THREADS_KEPT)
        log.info("gmail send %s: sent as %s in thread %s", key, answer.get("id"), answer.get("threadId"))

    def close(self) -> None:
        """Nothing to release: each send is its own HTTP request."""

    def was_sent(self, message_id: str, key: str) -> bool | None:
        """True when Gmail holds the message in Sent, False when it does not (and had time to index it),
        None when it cannot tell: no read scope, Gmail unreachable, or an attempt too recent to be sure."""
        state = self.state.read()
        if key in state.get("sent", {}):
            return True
        found = self._in_sent(message_id)
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
        # Gmail's search may not show a message sent a moment ago: "absent" counts once the attempt is
        # old enough, or after a few lookups in a row (a virtual clock may not move between them).
        if self.clock() - datetime.fromisoformat(attempt[1]) >= self.search_settle or misses >= SEARCH_MISSES:
            return False
        return None

    # --- Gmail ---------------------------------------------------------------------------------------

    def _post(self, raw: bytes, thread_id: str | None, key: str, message_id: str | None) -> dict[str, Any]:
        with self.state.changing() as changing:
            # Written down before the request leaves: a crash or a lost answer from here on is a doubt.
            remember(changing.setdefault("attempts", {}), key, [message_id, self.clock().isoformat(), 0], SENT_KEPT)
        body = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
        if thread_id is not None:
            body["threadId"] = thread_id
        request = self.service.users().messages().send(userId=self.user, body=body)
        try:
            answer = execute(request, f"messages.send of {key}", ONE_TRY)
        except CredentialsExpired:
            self._forget_attempt(key)  # refused before anything was sent
            raise
        except Throttled as error:
            self._forget_attempt(key)
            raise GmailThrottled(str(error), error.retry_after) from error
        except Transient as error:
            if isinstance(error.__cause__, ConnectionRefusedError):
                self._forget_attempt(key)  # nothing reached Google
            else:
                # A lost answer (AnswerLost), a timeout or a 5xx: Google may have sent it. Stricter than
                # Google's advice to retry 5xx: even an error answer is not taken as "nothing was sent".
                log.info("gmail send %s: the outcome is unknown (%s); the next try asks Gmail first", key, error)
            raise TransientSendError(str(error)) from error
        except GoogleApiError as error:
            self._forget_attempt(key)
            if error.status == 404 and thread_id is not None:
                raise
            if error.status == 403:
                # No right to send (scope, delegation): a person must fix the credentials; the mail waits.
                raise CredentialsExpired(f"Gmail refused to send for {self.user}: {error}", role="send") from error
            raise PermanentSendError(str(error)) from error
        return dict(answer or {})

    def _send_again(self, key: str, message_id: str | None) -> bool:
        """An earlier try of `key` may have gone out: whether to send now (True) or not (False: it
        arrived, recorded as sent). Raises TransientSendError while Gmail cannot tell yet."""
        if message_id is None:
            log.warning("gmail send %s: an earlier try may have gone out and the message has no Message-ID to "
                        "look for; sending it again (it may arrive twice)", key)
            return True
        arrived = self.was_sent(message_id, key)
        if arrived:
            with self.state.changing() as changing:
                changing.get("attempts", {}).pop(key, None)
                remember(changing.setdefault("sent", {}), key, "found in Sent", SENT_KEPT)
            log.info("gmail send %s: the earlier try had arrived (found in Sent); not sent again", key)
            return False
        if arrived is None and not self._read_refused:
            raise TransientSendError(f"{key}: an earlier try may have gone out and Gmail cannot say yet whether it "
                                     "did; trying again later")
        if arrived is None:
            log.warning("gmail send %s: an earlier try may have gone out and without a read scope coachd cannot "
                        "ask Gmail; sending it again (it may arrive twice)", key)
        return True

    def _in_sent(self, message_id: str) -> bool | None:
        """Whether Sent holds a message with this Message-ID; None when Gmail cannot be asked."""
        wanted = message_id.strip().strip("<>")
        if not wanted:
            return None
        request = self.service.users().messages().list(userId=self.user, q=f"rfc822msgid:{wanted}",
                                                       labelIds=["SENT"], maxResults=1)
        try:
            answer = execute(request, f"messages.list rfc822msgid:{wanted}", self.policy)
        except GoogleApiError as error:
            if error.status == 403 and not self._read_refused:
                self._read_refused = True
                log.warning("gmail: cannot look in Sent (%s); grant gmail.readonly besides gmail.send so that a "
                            "send whose answer was lost is never sent twice", error)
            return None
        except ProviderError as error:
            log.info("gmail: could not look in Sent for %s: %s", wanted, error)
            return None
        return bool((answer or {}).get("messages"))

    def _forget_attempt(self, key: str) -> None:
        with self.state.changing() as changing:
            changing.get("attempts", {}).pop(key, None)


def _headers(raw: bytes) -> dict[str, str]:
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    parsed = BytesHeaderParser().parsebytes(raw if end < 0 else raw[:end + 2])
    found: dict[str, str] = {}
    for name in ("Message-ID", "In-Reply-To", "References", "Subject", "To", "Cc", "Bcc"):
        values = parsed.get_all(name) or []
        found[name] = " ".join(" ".join(str(v).split()) for v in values)
    return found


def _first_id(value: str) -> str | None:
    start, end = value.find("<"), value.find(">")
    return value[start:end + 1] if 0 <= start < end else (value.strip() or None)


def _thread_key(headers: dict[str, str], envelope: SmtpEnvelope | None) -> str:
    """Series root (References' first id, else In-Reply-To, else the message's own id), recipients and
    subject: what Gmail needs to match for a message to join a thread, hashed to keep the file small."""
    root = _first_id(headers["References"]) or _first_id(headers["In-Reply-To"]) or \
        _first_id(headers["Message-ID"]) or ""
    if envelope is not None:
        recipients = [address for address in envelope[1]]
    else:
        recipients = [a for _, a in getaddresses([headers[n] for n in ("To", "Cc", "Bcc") if headers[n]]) if a]
    subject = _subject_key(headers["Subject"])
    text = "\n".join([root, ",".join(sorted({r.lower() for r in recipients})), subject])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def _subject_key(subject: str) -> str:
    """A subject as Gmail compares it: without Re:/Fwd: prefixes, spaces collapsed, any case."""
    return " ".join(_REPLY_PREFIX.sub("", subject).split()).casefold()


def gmail_sender(state_dir: Path, *, auth: Any, credential_store: Any = None, api_root: str = DEFAULT_API_ROOT,
                 organizer_email: str | None = None, read_sent: bool = False,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS) -> GmailSender:
    """The `send: {provider: gmail}` sender. Scope gmail.send; with `read_sent`, gmail.readonly too, so
    that a send whose answer was lost is looked for in Sent instead of possibly going out twice.
    Opens no connection (credentials are fetched on the first send)."""
    from coachd.providers.google.auth import google_credentials  # the auth helper's module (issue 17 point 2)

    scopes = [GMAIL_SEND, GMAIL_READONLY] if read_sent else [GMAIL_SEND]
    credentials = google_credentials(auth, scopes, credential_store, subject=organizer_email, role="send")
    # The account by its address: Gmail takes it as userId, and it names the state file per account.
    account = auth.acting_for(organizer_email) or "me"
    return GmailSender(gmail_service(api_root, credentials, timeout), state_dir=Path(state_dir), user=account)
