"""The fake's HTTP core: a loopback server the real Google client libraries talk to, its routes,
Google's error shapes, bearer-token checks, paging, and the faults a test asks for.

Each service (Calendar v3, Gmail v1, free/busy, the OAuth token endpoint) is a module of this
package that registers its routes on one `FakeGoogle`; they share one lock, so every request sees
and leaves a consistent state, as a single Google backend would appear to a single client.

Where Google's documents are silent, the fake takes the stricter plausible behaviour and says so
in a comment beginning "Stricter:".
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

# Google's canonical status names in error bodies (google.rpc.Code), by HTTP status.
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 409: "ALREADY_EXISTS", 410: "FAILED_PRECONDITION", 412: "FAILED_PRECONDITION",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Principal:
    """Who an access token stands for: the user acting (an impersonated user for a service account)."""

    subject: str
    scopes: frozenset[str]
    expires_at: datetime
    client_id: str = ""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None
    principal: Principal | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def group(self, name: str) -> str:
        assert self.match is not None
        return self.match.group(name)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list: JSON; bytes: sent as is; None: empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=UTF-8"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


class ApiError(Exception):
    """Raised by a handler: answered in Google's JSON error shape."""

    def __init__(self, status: int, reason: str, message: str, domain: str = "global",
                 headers: dict[str, str] | None = None, **extra: str) -> None:
        super().__init__(message)
        self.response = google_error(status, reason, message, domain, headers, **extra)


def google_error(status: int, reason: str, message: str, domain: str = "global",
                 headers: dict[str, str] | None = None, **extra: str) -> Response:
    """`{"error": {"code", "message", "errors": [{"domain", "reason", "message"}], "status"}}`."""
    detail = {"domain": domain, "reason": reason, "message": message, **extra}
    body = {"error": {"code": status, "message": message, "errors": [detail],
                      "status": _STATUS_NAMES.get(status, "UNKNOWN")}}
    return Response(status, body, dict(headers or {}))


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[Request], Response]
    scopes: frozenset[str]  # any one of these lets the request in; empty: no token needed


# --- faults ---------------------------------------------------------------------------------------

# What a fault does to a request:
#   "429"            429 Too Many Requests with Retry-After, in Google's rateLimitExceeded shape
#   "403-rate"       403 rateLimitExceeded (Calendar's per-minute quota)
#   "403-user-rate"  403 userRateLimitExceeded
#   "403-quota"      403 quotaExceeded: the daily quota; retrying today will not help
#   "500", "503"     a backend error
#   "drop"           the connection closes before any answer (nothing was done)
#   "lost"           the request is carried out, then the connection closes before the answer:
#                    what a client timeout after the server committed looks like
#   "stall"          the answer waits `Faults.stall_seconds` (a client timeout shorter than that fires)
FAULT_KINDS = ("429", "403-rate", "403-user-rate", "403-quota", "500", "503", "drop", "lost", "stall")
# Faults drawn at random (the daily quota is never drawn: it is scripted where a test wants it).
RANDOM_KINDS = ("429", "403-rate", "403-user-rate", "500", "503", "drop", "lost")


@dataclass
class ScriptedFault:
    kind: str
    times: int
    path_contains: str | None
    method: str | None


@dataclass
class Faults:
    """Faults for the next requests: scripted ones first (`fail_next`), then at random (`rate`).

    Only API requests fail this way, never the token endpoint unless `include_token` is set."""

    rate: float = 0.0
    kinds: Sequence[str] = RANDOM_KINDS
    retry_after_seconds: int | None = 1
    stall_seconds: float = 2.0
    include_token: bool = False
    seed: int = 0
    scripted: list[ScriptedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def fail_next(self, kind: str, times: int = 1, *, path_contains: str | None = None,
                  method: str | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {FAULT_KINDS}")
        self.scripted.append(ScriptedFault(kind, times, path_contains, method))

    def draw(self, request: Request, is_token: bool) -> str | None:
        if is_token and not self.include_token:
            return None
        for fault in self.scripted:
            if fault.times > 0 and (fault.path_contains is None or fault.path_contains in request.path) \
                    and (fault.method is None or fault.method == request.method):
                fault.times -= 1
                return fault.kind
        if self.rate and self._random.random() < self.rate:
            return self._random.choice(list(self.kinds))
        return None


def fault_response(kind: str, retry_after: int | None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if kind == "429":
        return google_error(429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits", headers)
    if kind == "403-rate":
        return google_error(403, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits")
    if kind == "403-user-rate":
        return google_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded", "usageLimits")
    if kind == "403-quota":
        return google_error(403, "quotaExceeded", "Calendar usage limits exceeded.", "usageLimits")
    if kind == "500":
        return google_error(500, "backendError", "Backend Error")
    if kind == "503":
        return google_error(503, "backendError", "The service is currently unavailable.")
    raise ValueError(kind)


# --- paging ---------------------------------------------------------------------------------------


def page_of(items: Sequence[Any], page_token: str | None, max_results: int, page_size: int,
            *, shorten: bool = False, rng: random.Random | None = None) -> tuple[list[Any], str | None]:
    """One page of `items` from an opaque page token: at most min(max_results, page_size) items,
    fewer when `shorten` (Google may return a short page although more follow). Returns the page
    and the next page token (None on the last page)."""
    start = 0
    if page_token:
        try:
            start = int(base64.urlsafe_b64decode(page_token.encode()).decode().removeprefix("p:"))
        except (ValueError, UnicodeDecodeError) as error:
            raise ApiError(400, "invalid", "Invalid page token value.") from error
    size = max(1, min(max_results, page_size))
    if shorten and rng is not None and size > 1:
        size = rng.randint(1, size)
    chunk = list(items[start:start + size])
    following = start + len(chunk)
    token = base64.urlsafe_b64encode(f"p:{following}".encode()).decode() if following < len(items) else None
    return chunk, token


# --- the server -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """One request as the server saw it (after the fault, if any)."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    fault: str | None
    subject: str | None


class FakeGoogle:
    """Google's APIs on 127.0.0.1: `base_url` is the `api_root` (and `base_url + "/token"` the
    `token_uri`) a config or a client is given. Use as a context manager, or start()/stop().

    `now` is the fake's clock (token lifetimes, history and sync-token expiry): tests that run on
    the daemon's virtual clock hand theirs in. `page_size` caps every list page, so short pages
    are the rule in tests, as they may be at Google."""

    def __init__(self, *, now: Callable[[], datetime] | None = None, page_size: int = 5, seed: int = 0) -> None:
        self.now = now or (lambda: datetime.now(UTC))
        self.page_size = page_size
        self.random = random.Random(seed)
        self.faults = Faults(seed=seed)
        self.lock = threading.RLock()
        self.log: list[Logged] = []
        self.latency_seconds = 0.0
        self._routes: list[Route] = []
        self._tokens: dict[str, Principal] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- routes and tokens, for the service modules ---------------------------------------------

    def route(self, method: str, pattern: str, handler: Callable[[Request], Response],
              scopes: Sequence[str] = ()) -> None:
        """Answer `method` on paths matching `pattern` (a regex matched in full, named groups for
        the path's parameters) with `handler`; `scopes`: a live token with any one of them is needed."""
        self._routes.append(Route(method, re.compile(pattern), handler, frozenset(scopes)))

    def issue_access_token(self, subject: str, scopes: Sequence[str], lifetime: timedelta = timedelta(hours=1),
                           client_id: str = "") -> str:
        token = "ya29.fake-" + base64.urlsafe_b64encode(self.random.randbytes(24)).decode().rstrip("=")
        with self.lock:
            self._tokens[token] = Principal(subject, frozenset(scopes), self.now() + lifetime, client_id)
        return token

    def revoke_access_tokens(self, subject: str | None = None) -> None:
        """Every access token (of `subject`) stops working at once, as after a revocation."""
        with self.lock:
            for token, principal in list(self._tokens.items()):
                if subject is None or principal.subject == subject:
                    del self._tokens[token]

    # --- what tests read -------------------------------------------------------------------------

    def requests(self, path_contains: str = "", method: str | None = None) -> list[Logged]:
        with self.lock:
            return [entry for entry in self.log if path_contains in entry.path
                    and (method is None or entry.method == method)]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the fake is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    # --- life --------------------------------------------------------------------------------------

    def start(self) -> FakeGoogle:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body are two writes: with Nagle's algorithm the body waits for the
            # client's delayed ACK of the headers (about 40 ms on Linux), on every request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-google",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- one request ------------------------------------------------------------------------------

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Request(http.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in http.headers.items()}, body)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        route, match = self._find(request)
        is_token = route is not None and not route.scopes
        with self.lock:
            fault = self.faults.draw(request, is_token) if route is not None else None
        if fault in ("drop",):
            self._record(request, 0, fault)
            http.close_connection = True
            return
        if fault == "stall":
            time.sleep(self.faults.stall_seconds)
            fault = None
        if fault is not None and fault != "lost":
            response = fault_response(fault, self.faults.retry_after_seconds)
        else:
            response = self._answer(request, route, match)
        self._record(request, response.status, fault)
        if fault == "lost":
            http.close_connection = True
            return
        payload = response.encoded()
        http.send_response(response.status)
        http.send_header("Content-Type", response.content_type)
        http.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            http.send_header(name, value)
        http.end_headers()
        http.wfile.write(payload)

    def _find(self, request: Request) -> tuple[Route | None, re.Match[str] | None]:
        for route in self._routes:
            if route.method == request.method:
                match = route.pattern.fullmatch(request.path)
                if match:
                    return route, match
        return None, None

    def _answer(self, request: Request, route: Route | None, match: re.Match[str] | None) -> Response:
        if route is None:
            known = any(r.pattern.fullmatch(request.path) for r in self._routes)
            if known:
                return google_error(405, "methodNotAllowed", f"Method {request.method} not allowed here.")
            return google_error(404, "notFound", f"Not Found: {request.method} {request.path}")
        request.match = match
        try:
            with self.lock:
                if route.scopes:
                    request.principal = self._authorise(request, route)
                return route.handler(request)
        except ApiError as error:
            return error.response
        except json.JSONDecodeError as error:
            return google_error(400, "parseError", f"Parse Error: {error}")

    def _authorise(self, request: Request, route: Route) -> Principal:
        header = request.headers.get("authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        principal = self._tokens.get(token) if token else None
        if principal is None or principal.expires_at <= self.now():
            raise ApiError(401, "authError", "Invalid Credentials",
                           headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
                           location="Authorization", locationType="header")
        if not principal.scopes & route.scopes:
            raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        return principal

    def _record(self, request: Request, status: int, fault: str | None) -> None:
        with self.lock:
            self.log.append(Logged(request.method, request.path, request.query, status, fault,
                                   request.principal.subject if request.principal else None))


def iter_pages(fetch: Callable[[str | None], tuple[list[Any], str | None]]) -> Iterator[Any]:
    """Every item of a paged listing (for tests that read the fake's own listings)."""
    token: str | None = None
    while True:
        items, token = fetch(token)
        yield from items
        if token is None:
            return


__all__ = ["FAULT_KINDS", "ApiError", "FakeGoogle", "Faults", "Logged", "Principal", "Request", "Response",
           "google_error", "iter_pages", "page_of"]
