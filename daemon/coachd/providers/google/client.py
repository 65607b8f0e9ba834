"""Google API clients, built offline, and the one place Google's answers become coachd's errors.

Clients are built from the discovery documents google-api-python-client ships inside its package
(no network at build time), with the document's `rootUrl` set to the configured `api_root`: that
moves every request, batch ones included, to a proxy, a private endpoint or the tests' fake
(`client_options={"api_endpoint": ...}` would leave batch requests on googleapis.com).

Every call goes through `execute`: a timeout on every request, googleapiclient's own retries off
(they ignore Retry-After), and each failure mapped once to the kinds every role shares
(providers/base.py), which the retry policy (providers/retry.py) and the runtime's provider health
(runtime/provider_health.py) act on.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import google.auth.credentials
import google.auth.exceptions
import google_auth_httplib2
import httplib2
from googleapiclient.discovery import Resource, build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest

from coachd.providers.base import CredentialsExpired, Permanent, ProviderError, QuotaExhausted, Throttled, Transient
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger("coachd.google")

T = TypeVar("T")

DEFAULT_API_ROOT = "https://www.googleapis.com/"
DEFAULT_TIMEOUT_SECONDS = 30.0
# Google's daily quotas reset at midnight Pacific time.
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_DAILY_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})


class GoogleApiError(Permanent):
    """Google refused the request for good (a 4xx other than throttling and auth): `status` and
    `reason` (Google's first `errors[].reason`) let callers act on the ones that mean something to
    them (409 duplicate: already created; 404: gone)."""

    def __init__(self, message: str, status: int, reason: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class GoogleSyncTokenExpired(ProviderError):
    """410 Gone: the sync token is too old (`fullSyncRequired`); the caller syncs again in full."""


@cache
def discovery_document(api: str, version: str) -> str:
    """The discovery document shipped with google-api-python-client, as text."""
    package = resources.files("googleapiclient.discovery_cache.documents")
    return package.joinpath(f"{api}.{version}.json").read_text(encoding="utf-8")


def build_service(api: str, version: str, api_root: str, credentials: google.auth.credentials.Credentials,
                  timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Resource:
    """A client for `api` `version` (e.g. "calendar", "v3") sending every request under `api_root`."""
    document = json.loads(discovery_document(api, version))
    document["rootUrl"] = api_root if api_root.endswith("/") else api_root + "/"
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
    return build_from_document(document, http=http)


def execute(request: HttpRequest | Callable[[], HttpRequest], what: str,
            policy: RetryPolicy = DEFAULT_POLICY) -> Any:
    """Run one API request under `policy`, its failures mapped by `classify`. `what` names the call
    in errors and logs ("events.insert on primary"); give a callable to build a fresh request per
    attempt (a request object keeps its body, so passing one is fine too)."""

    def once() -> Any:
        built = request() if callable(request) and not isinstance(request, HttpRequest) else request
        try:
            return built.execute(num_retries=0)
        except Exception as error:  # mapped below; anything unexpected goes up as it is
            raise classify(error, what) from error

    return policy.call(once)


def classify(error: BaseException, what: str) -> BaseException:
    """The coachd error for a failed Google call (the error itself when it is none of Google's)."""
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, HttpError):
        return _classify_http(error, what)
    if isinstance(error, google.auth.exceptions.RefreshError):
        return CredentialsExpired(f"{what}: Google refused the credentials: {_refresh_reason(error)}")
    if isinstance(error, google.auth.exceptions.TransportError):
        return Transient(f"{what}: could not reach Google's token endpoint: {error}")
    if isinstance(error, (socket.timeout, TimeoutError)):
        return Transient(f"{what}: no answer from Google in time")
    if isinstance(error, (httplib2.HttpLib2Error, ConnectionError, OSError)):
        return Transient(f"{what}: could not reach Google: {error}")
    return error


def _classify_http(error: HttpError, what: str) -> ProviderError:
    status = error.status_code
    reason, message = _reason_and_message(error)
    text = f"{what}: Google answered {status} {reason or ''}".rstrip() + (f": {message}" if message else "")
    retry_after = _retry_after(error)
    if status == 429 or (status == 403 and reason in _RATE_REASONS):
        return Throttled(text, retry_after)
    if status == 403 and reason in _DAILY_REASONS:
        # Not retried in a loop: the runtime leaves the role alone until the quota resets.
        return QuotaExhausted(text + " (daily quota; tried again after it resets)", _until_quota_reset())
    if status == 401:
        # google-auth already refreshed the token once and the new one was refused too.
        return CredentialsExpired(text)
    if status == 410:
        return GoogleSyncTokenExpired(text)
    if status >= 500 or status == 408:
        return Transient(text)
    return GoogleApiError(text, status, reason)


def _reason_and_message(error: HttpError) -> tuple[str | None, str]:
    try:
        body = json.loads(error.content)
        detail = body["error"]
        errors = detail.get("errors") or [{}]
        return errors[0].get("reason"), str(detail.get("message") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, ""


def _retry_after(error: HttpError) -> timedelta | None:
    value = error.resp.get("retry-after") if error.resp is not None else None
    if value is None:
        return None
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        return None  # an HTTP date: rare from Google, and backing off is safe without it


def _until_quota_reset(now: datetime | None = None) -> timedelta:
    local = (now or datetime.now(QUOTA_ZONE)).astimezone(QUOTA_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), QUOTA_ZONE)
    return midnight - local


def _refresh_reason(error: google.auth.exceptions.RefreshError) -> str:
    """The OAuth error of a refused refresh, without any token material (google-auth puts the
    response body in the message: error and error_description only are kept). A refusal that
    auth.py already explained (what the admin must do) keeps its explanation."""
    explanation = getattr(error, "explanation", None)
    if isinstance(explanation, str) and explanation:
        return explanation
    details = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
    code = details.get("error")
    description = details.get("error_description")
    if code:
        return f"{code}" + (f" ({description})" if description else "")
    return str(error.args[0]).split(":")[0] if error.args else "refresh refused"
