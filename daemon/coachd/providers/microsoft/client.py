"""Microsoft Graph v1.0 over requests, and the one place Graph's answers become coachd's errors.

Every call goes through `GraphClient.request`: a bearer token from auth.py (taken back and asked
again once when Graph answers 401), a timeout, every `Prefer` value in one header (a second header
would replace the first), at most `MAILBOX_CONCURRENCY` requests in flight per mailbox in this
process (Exchange answers the fifth with 429 MailboxConcurrency), and each failure mapped once to
the kinds every role shares (providers/base.py), under the retry policy (providers/retry.py):

    429, 503, 504           Throttled, with Graph's Retry-After
    other 5xx, 408, network Transient
    401 after a new token   CredentialsExpired (and Entra's refusals, from auth.py)
    410 SyncStateNotFound   GraphSyncStateNotFound (a SyncCursorExpired: sync again in full)
    other 4xx               GraphApiError (Permanent) with the status and Graph's error code

A POST is retried like any call, so a caller makes it idempotent (an event's transactionId): a request
lost after Graph carried it out comes back as a timeout, never as an answer.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from coachd.providers.base import CredentialsExpired, Permanent, SyncCursorExpired, Throttled, Transient
from coachd.providers.microsoft.auth import GraphCredentials
from coachd.providers.microsoft.transport import DEFAULT_TIMEOUT_SECONDS, new_session
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger("coachd.microsoft")

API_VERSION = "v1.0"
# Exchange Online's limit of concurrent requests per app and mailbox.
MAILBOX_CONCURRENCY = 4
# JSON batching's limit of requests per $batch.
MAX_BATCH = 20
_THROTTLING = frozenset({429, 503, 504})
_SYNC_EXPIRED = frozenset({"SyncStateNotFound", "SyncStateInvalid", "resyncRequired"})


class GraphApiError(Permanent):
    """Graph refused the request for good (a 4xx other than throttling and auth): `status` and `code`
    (Graph's error.code, e.g. ErrorItemNotFound, ErrorAccessDenied) let callers act on the ones that
    mean something to them (404: gone; 409: already there)."""

    def __init__(self, message: str, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class GraphSyncStateNotFound(SyncCursorExpired):
    """410 Gone: a delta link Graph no longer knows (SyncStateNotFound); the caller syncs again in full."""


@dataclass(frozen=True)
class BatchRequest:
    """One request of a JSON $batch: `url` relative to /v1.0 ("/users/x/events"), its own headers."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchAnswer:
    id: str
    status: int
    body: Any
    headers: Mapping[str, str]

    def error(self, what: str) -> Exception | None:
        """coachd's error for a failed inner answer (None for a success)."""
        if self.status < 400:
            return None
        return classify_status(self.status, self.body, self.headers, what)


# One gate per mailbox in this process, whatever client talks to it: Exchange counts per app and mailbox.
_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def mailbox_slots(graph_url: str, mailbox: str) -> threading.BoundedSemaphore:
    key = f"{graph_url.lower()} {mailbox.lower()}"
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(key, threading.BoundedSemaphore(MAILBOX_CONCURRENCY))


class GraphClient:
    """Graph for one mailbox: `request` and `json` call it, `pages` follows @odata.nextLink, `batch` sends
    up to 20 requests at once. Paths are relative to /v1.0; `users_path` is "/users/<mailbox>"."""

    def __init__(self, credentials: GraphCredentials, graph_url: str, mailbox: str, *,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, policy: RetryPolicy = DEFAULT_POLICY,
                 session: requests.Session | None = None) -> None:
        self.credentials = credentials
        self.base = f"{graph_url.rstrip('/')}/{API_VERSION}"
        self.mailbox = mailbox
        self.timeout = timeout
        self.policy = policy
        self.session = session or new_session(timeout)
        self.slots = mailbox_slots(graph_url, mailbox)

    @property
    def users_path(self) -> str:
        return f"/users/{quote(self.mailbox, safe='@')}"

    def close(self) -> None:
        self.session.close()

    # --- one call ----------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, body: Any = None, params: Mapping[str, str] | None = None,
                prefer: Sequence[str] = (), headers: Mapping[str, str] | None = None, what: str | None = None,
                policy: RetryPolicy | None = None) -> requests.Response:
        """`method` on `path` (relative to /v1.0, or an absolute nextLink under it), retried under the
        policy; returns the successful response, or raises coachd's error for the failure."""
        url = self._url(path)
        label = what or f"{method} {urlsplit(url).path}"
        return (policy or self.policy).call(self._once, method, url, body, params, prefer, headers or {}, label)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of `request` (None for an empty one, as 202 and 204 are)."""
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def pages(self, path: str, *, params: Mapping[str, str] | None = None, prefer: Sequence[str] = (),
              page_size: int | None = None, what: str | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a listing, following @odata.nextLink (its query carries the parameters; a page
        may be short while more follow). The last page is the one with @odata.deltaLink, if any."""
        wanted = [*prefer, *([f"odata.maxpagesize={page_size}"] if page_size else [])]
        page = self.json("GET", path, params=params, prefer=wanted, what=what)
        while True:
            yield page
            following = page.get("@odata.nextLink")
            if not following:
                return
            page = self.json("GET", following, prefer=wanted, what=what)

    def items(self, path: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of a listing's pages (their `value`)."""
        for page in self.pages(path, **kwargs):
            yield from page.get("value") or ()

    def _url(self, path: str) -> str:
        if "://" not in path:
            return self.base + ("" if path.startswith("/") else "/") + path
        # A nextLink or deltaLink: followed only under the configured Graph, where the token belongs.
        if not path.startswith(self.base + "/"):
            raise GraphApiError(f"Graph sent a link outside {self.base}: not followed", 0, None)
        return path

    def _once(self, method: str, url: str, body: Any, params: Mapping[str, str] | None, prefer: Sequence[str],
              headers: Mapping[str, str], what: str) -> requests.Response:
        response = self._send(method, url, body, params, prefer, headers, what, refresh=False)
        if response.status_code == 401:
            # The token may have been revoked or expired early: one new token, then it is the credentials.
            response = self._send(method, url, body, params, prefer, headers, what, refresh=True)
            if response.status_code == 401:
                code, message = error_of(response.content)
                raise CredentialsExpired(f"{what}: Graph refused a new token for {self.credentials.account} "
                                         f"(401 {code or ''}{': ' + message if message else ''})")
        if response.status_code >= 400:
            raise classify_status(response.status_code, response.content, response.headers, what)
        return response

    def _send(self, method: str, url: str, body: Any, params: Mapping[str, str] | None, prefer: Sequence[str],
              headers: Mapping[str, str], what: str, *, refresh: bool) -> requests.Response:
        sent = {"Authorization": f"Bearer {self.credentials.token(refresh=refresh)}",
                "client-request-id": str(uuid.uuid4()), "Accept": "application/json", **headers}
        if prefer:
            sent["Prefer"] = ", ".join(dict.fromkeys(prefer))  # one header: a second one would replace it
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        try:
            with self.slots:
                return self.session.request(method, url, params=params, data=data, headers=sent, timeout=self.timeout)
        except requests.Timeout:
            raise Transient(f"{what}: no answer from Graph within {self.timeout:g} s") from None
        except requests.RequestException as error:
            raise Transient(f"{what}: could not reach Graph: {type(error).__name__}") from None

    # --- JSON batching -------------------------------------------------------------------------------

    def batch(self, requests_: Sequence[BatchRequest], *, what: str = "$batch") -> dict[str, BatchAnswer]:
        """Up to 20 requests in one $batch, answers by id. Inner answers throttled (429, 503, 504) are
        sent again, alone, after the largest Retry-After among them, up to the policy's attempts;
        other inner failures are left in their answers (`BatchAnswer.error`) for the caller. A batch takes
        one of the mailbox's slots here; Graph runs its inner requests a few at a time and answers those
        over the mailbox's limit with an inner 429, which is retried as above."""
        if len(requests_) > MAX_BATCH:
            raise ValueError(f"{len(requests_)} requests: a $batch takes at most {MAX_BATCH}")
        if len({r.id for r in requests_}) != len(requests_):
            raise ValueError("$batch request ids must be unique")
        answers: dict[str, BatchAnswer] = {}
        pending = list(requests_)
        for attempt in range(1, self.policy.attempts + 1):
            body = {"requests": [_inner(r) for r in pending]}
            answer = self.json("POST", "/$batch", body=body, what=f"{what} of {len(pending)}")
            got = {str(item.get("id")): BatchAnswer(str(item.get("id")), int(item.get("status") or 0),
                                                     item.get("body"), item.get("headers") or {})
                   for item in (answer or {}).get("responses") or ()}
            throttled = [r for r in pending if r.id in got and got[r.id].status in _THROTTLING]
            answers.update(got)
            if not throttled or attempt == self.policy.attempts:
                break
            waits = [retry_after(got[r.id].headers) for r in throttled]
            wait = max((w for w in waits if w is not None), default=None)
            seconds = max(wait.total_seconds() if wait else 0.0, self.policy.first.total_seconds())
            log.info("%s: %d inner request(s) throttled; sending them again in %.1f s", what, len(throttled), seconds)
            self.policy.sleep(seconds)
            pending = throttled
        missing = [r.id for r in requests_ if r.id not in answers]
        if missing:
            raise Transient(f"{what}: Graph's answer left out request(s) {', '.join(missing)}")
        return answers


def _inner(request: BatchRequest) -> dict[str, Any]:
    inner: dict[str, Any] = {"id": request.id, "method": request.method, "url": request.url}
    headers = dict(request.headers)
    if request.body is not None:
        inner["body"] = request.body
        headers.setdefault("Content-Type", "application/json")
    if headers:
        inner["headers"] = headers
    return inner


# --- errors -------------------------------------------------------------------------------------------


def error_of(content: Any) -> tuple[str | None, str]:
    """Graph's error.code and error.message from an answer's body (bytes, text or parsed JSON)."""
    try:
        data = json.loads(content) if isinstance(content, (bytes, str)) else content
        detail = data["error"]
        code = detail.get("code")
        return (str(code) if code else None), str(detail.get("message") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, ""


def retry_after(headers: Mapping[str, str]) -> timedelta | None:
    """Retry-After in seconds or as an HTTP date (None when absent or unreadable)."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(timedelta(0), when - datetime.now(UTC))


def classify_status(status: int, content: Any, headers: Mapping[str, str], what: str) -> Exception:
    code, message = error_of(content)
    text = f"{what}: Graph answered {status} {code or ''}".rstrip() + (f": {message}" if message else "")
    if status in _THROTTLING:
        return Throttled(text, retry_after(headers))
    if status == 410 and (code in _SYNC_EXPIRED or code is None):
        return GraphSyncStateNotFound(text)
    if status == 401:
        return CredentialsExpired(text)
    if status >= 500 or status == 408:
        return Transient(text)
    return GraphApiError(text, status, code)
