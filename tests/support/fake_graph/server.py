"""The fake's HTTP core: a loopback server that real msal and requests talk to, its routes, Graph's error
shape, bearer tokens with their permissions, paging, JSON batching, mailbox concurrency, and the faults
a test asks for.

Each service (the identity platform, calendars, getSchedule, mail) is a module of this package that
registers its routes on one `FakeGraph`; they share one lock, so every request sees and leaves a
consistent state, as a single Microsoft 365 tenant would appear to a single client. Graph's paths live
under /v1.0; the identity platform's under /<tenant>/... on the same server (the tests' session
rewrites https://login.microsoftonline.com to it, tests/support/fake_graph/redirect.py).

Where Microsoft's documents are silent, the fake takes the stricter plausible behaviour and says so in
a comment beginning "Stricter:".
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

API = "/v1.0"
# Exchange Online's limit of concurrent requests per app and mailbox, and JSON batching's per $batch.
MAILBOX_CONCURRENCY = 4
MAX_BATCH = 20
# How long a gated request waits for its gate at most: a test that forgets to open it still ends.
GATE_TIMEOUT_SECONDS = 10.0


@dataclass
class Principal:
    """Who an access token stands for: an app (app-only, `roles`) or a user through an app (`scp`)."""

    kind: str  # "app" or "delegated"
    tenant: str
    app_id: str
    permissions: frozenset[str]  # roles of an app-only token, scp of a delegated one (short names)
    expires_at: datetime
    user: str | None = None  # the signed-in user of a delegated token, lower case


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

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def group(self, name: str) -> str:
        assert self.match is not None
        return self.match.group(name)

    def prefers(self) -> dict[str, str]:
        """The Prefer header's preferences (`odata.maxpagesize=5, outlook.timezone="X"`), by name."""
        found: dict[str, str] = {}
        for part in re.findall(r'(?:[^,"]|"[^"]*")+', self.headers.get("prefer", "")):
            name, _, value = part.strip().partition("=")
            if name:
                found[name.strip().lower()] = value.strip().strip('"')
        return found

    @property
    def mailbox(self) -> str | None:
        """The mailbox a /users/{id} or /me path is about (lower case; "me" for /me)."""
        if self.match is None or "mailbox" not in self.match.re.groupindex:
            return None
        return self.match.group("mailbox").lower()


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list: JSON; bytes: sent as is; None: empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


class GraphError(Exception):
    """Raised by a handler: answered in Graph's error shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[Request], Response]
    permissions: frozenset[str]  # any one lets the request in (roles or scp); empty with public: no token
    public: bool


# --- faults ---------------------------------------------------------------------------------------

# What a fault does to a request:
#   "429"            429 Too Many Requests with Retry-After (ApplicationThrottled)
#   "503", "504"     service unavailable / gateway timeout, with Retry-After
#   "500"            a backend error, without Retry-After
#   "drop"           the connection closes before any answer (nothing was done)
#   "lost"           the request is carried out, then the connection closes before the answer
#   "stall"          the answer waits `Faults.stall_seconds` (a client timeout shorter than that fires)
FAULT_KINDS = ("429", "503", "504", "500", "drop", "lost", "stall")
RANDOM_KINDS = ("429", "503", "504", "500", "drop", "lost")
# Faults that can be answered inside a $batch (an inner answer; the $batch itself is a 200).
INNER_KINDS = ("429", "503", "504", "500")


@dataclass
class ScriptedFault:
    kind: str
    times: int
    path_contains: str | None
    method: str | None
    inner: bool  # for an inner request of a $batch, not a request on the wire


@dataclass
class Faults:
    """Faults for the next requests: scripted ones first (`fail_next`), then at random (`rate`).

    Only Graph's requests fail this way, never the identity platform's: msal replays a throttled token
    answer from its own cache, which a random fault there would turn into a test of msal."""

    rate: float = 0.0
    kinds: Sequence[str] = RANDOM_KINDS
    retry_after_seconds: int | None = 1
    stall_seconds: float = 2.0
    seed: int = 0
    scripted: list[ScriptedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def fail_next(self, kind: str, times: int = 1, *, path_contains: str | None = None,
                  method: str | None = None, inner: bool = False) -> None:
        allowed = INNER_KINDS if inner else FAULT_KINDS
        if kind not in allowed:
            raise ValueError(f"unknown fault {kind!r}; known: {allowed}")
        self.scripted.append(ScriptedFault(kind, times, path_contains, method, inner))

    def draw(self, request: Request, *, inner: bool) -> str | None:
        for fault in self.scripted:
            if fault.times > 0 and fault.inner == inner \
                    and (fault.path_contains is None or fault.path_contains in request.path) \
                    and (fault.method is None or fault.method == request.method):
                fault.times -= 1
                return fault.kind
        if self.rate and not inner and self._random.random() < self.rate:
            return self._random.choice(list(self.kinds))
        return None


# --- the server -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """One request as the server saw it (after the fault, if any); `inner`: inside a $batch."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    fault: str | None
    app_id: str | None
    user: str | None
    inner: bool = False


class FakeGraph:
    """Microsoft Graph v1.0 and the identity platform on 127.0.0.1: `base_url` is the `graph_url` a config
    or a client is given. Use as a context manager, or start()/stop().

    `now` is the fake's clock (token lifetimes, delta state expiry): tests on the daemon's virtual
    clock hand theirs in. `page_size` caps every list page (smaller pages with `Prefer:
    odata.maxpagesize`), and with `short_pages` a page may be shorter still, as Graph's may."""

    def __init__(self, *, now: Callable[[], datetime] | None = None, page_size: int = 10,
                 short_pages: bool = False, seed: int = 0) -> None:
        self.now = now or (lambda: datetime.now(UTC))
        self.page_size = page_size
        self.short_pages = short_pages
        self.random = random.Random(seed)
        self.faults = Faults(seed=seed)
        self.lock = threading.RLock()
        self.log: list[Logged] = []
        self.latency_seconds = 0.0
        # Mailboxes of the tenant(s), lower case -> tenant id; an app's mailboxes when restricted
        # (RBAC for Applications / ApplicationAccessPolicy): app id -> the only mailboxes it may reach.
        self.mailboxes: dict[str, str] = {}
        self.app_access: dict[str, set[str]] = {}
        self.peak_in_flight: Counter[tuple[str, str]] = Counter()
        self._routes: list[Route] = []
        self._tokens: dict[str, Principal] = {}
        self._in_flight: Counter[tuple[str, str]] = Counter()
        self._flight_changed = threading.Condition(self.lock)
        self._gates: list[tuple[str, threading.Event]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.route("POST", API + r"/\$batch", self._batch, permissions=(), public=False, any_token=True)

    # --- routes, tokens and the directory, for the service modules ------------------------------

    def route(self, method: str, pattern: str, handler: Callable[[Request], Response],
              permissions: Sequence[str] = (), *, public: bool = False, any_token: bool = False) -> None:
        """Answer `method` on paths matching `pattern` (a regex matched in full; a `mailbox` group names
        the /users/{id} the request is about) with `handler`. A live token holding any one of
        `permissions` is needed, unless `public` (the identity platform) or `any_token` (any live token)."""
        allowed = frozenset(permissions) if permissions or not any_token else frozenset({"*"})
        self._routes.append(Route(method, re.compile(pattern), handler, allowed, public))

    def issue_token(self, principal: Principal) -> str:
        token = "eyJ0eXAiOiJKV1QifQ.fake-" + base64.urlsafe_b64encode(self.random.randbytes(24)).decode().rstrip("=")
        with self.lock:
            self._tokens[token] = principal
        return token

    def revoke_access_tokens(self, *, app_id: str | None = None, user: str | None = None) -> None:
        """Every access token (of `app_id`, of `user`) stops working at once."""
        with self.lock:
            for token, principal in list(self._tokens.items()):
                if (app_id is None or principal.app_id == app_id) and (user is None or principal.user == user.lower()):
                    del self._tokens[token]

    def add_mailbox(self, address: str, tenant: str) -> None:
        with self.lock:
            self.mailboxes[address.lower()] = tenant

    def restrict_app(self, app_id: str, mailboxes: Sequence[str]) -> None:
        """An Exchange admin's RBAC for Applications (or ApplicationAccessPolicy): the app reaches these only."""
        with self.lock:
            self.app_access[app_id] = {m.lower() for m in mailboxes}

    def gate(self, path_contains: str) -> threading.Event:
        """Requests whose path contains `path_contains` wait, in flight, until the returned event is set."""
        event = threading.Event()
        with self.lock:
            self._gates.append((path_contains, event))
        return event

    # --- what tests read -------------------------------------------------------------------------

    def requests(self, path_contains: str = "", method: str | None = None, *, inner: bool | None = None
                 ) -> list[Logged]:
        with self.lock:
            return [entry for entry in self.log if path_contains in entry.path
                    and (method is None or entry.method == method) and (inner is None or entry.inner == inner)]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    def in_flight(self, app_id: str, mailbox: str) -> int:
        with self.lock:
            return self._in_flight[(app_id, mailbox.lower())]

    def wait_in_flight(self, mailbox: str, count: int, timeout: float = GATE_TIMEOUT_SECONDS) -> bool:
        """Wait until `count` requests on `mailbox` (any app) are in flight; False when that never happens."""
        mailbox = mailbox.lower()
        with self._flight_changed:
            return self._flight_changed.wait_for(
                lambda: sum(n for (_app, box), n in self._in_flight.items() if box == mailbox) >= count, timeout)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the fake is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API

    # --- paging, for the service modules ---------------------------------------------------------

    def page(self, request: Request, items: Sequence[Any], *, extra: dict[str, Any] | None = None) -> Response:
        """One page of `items` as Graph pages: `value`, and `@odata.nextLink` (this path and query, with
        an opaque $skiptoken) while more follow. The page holds at most `page_size` items, fewer with
        `Prefer: odata.maxpagesize=N` (then answered in Preference-Applied), and with `short_pages` a
        random number of them. `extra` goes on every page (a service adds its @odata.context)."""
        start = 0
        token = request.arg("$skiptoken")
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("skip:"))
            except (ValueError, UnicodeDecodeError) as error:
                raise GraphError(400, "BadRequest", "The $skiptoken is invalid.") from error
        size = self.page_size
        headers: dict[str, str] = {}
        asked = request.prefers().get("odata.maxpagesize")
        if asked is not None and asked.isdigit() and int(asked) > 0:
            size = min(size, int(asked))
            headers["Preference-Applied"] = f"odata.maxpagesize={int(asked)}"
        if self.short_pages and size > 1:
            size = self.random.randint(1, size)
        chunk = list(items[start:start + size])
        body: dict[str, Any] = {**(extra or {}), "value": chunk}
        following = start + len(chunk)
        if following < len(items):
            query = {k: v[-1] for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = base64.urlsafe_b64encode(f"skip:{following}".encode()).decode()
            body["@odata.nextLink"] = f"{self.base_url}{request.path}?{urlencode(query)}"
        return Response(200, body, headers)

    # --- life --------------------------------------------------------------------------------------

    def start(self) -> FakeGraph:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: with Nagle's algorithm on, the body waits for the
            # client's delayed ACK (~40 ms a request on a kept-alive connection).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-graph",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            for _path, event in self._gates:
                event.set()
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

    def error(self, request: Request, status: int, code: str, message: str,
              headers: dict[str, str] | None = None) -> Response:
        """Graph's error shape: `{"error": {"code", "message", "innerError": {"date", "request-id",
        "client-request-id"}}}`, the client's own request id echoed."""
        request_id = str(uuid.uuid4())
        inner = {"date": self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id,
                 "client-request-id": request.headers.get("client-request-id", request_id)}
        return Response(status, {"error": {"code": code, "message": message, "innerError": inner}},
                        {"request-id": request_id, **(headers or {})})

    def fault_response(self, request: Request, kind: str) -> Response:
        seconds = self.faults.retry_after_seconds
        headers = {"Retry-After": str(seconds)} if seconds is not None else {}
        if kind == "429":
            return self.error(request, 429, "TooManyRequests", "Too many requests. Please try again later.", headers)
        if kind == "503":
            return self.error(request, 503, "ServiceUnavailable", "Service is unavailable.", headers)
        if kind == "504":
            return self.error(request, 504, "GatewayTimeout", "The gateway did not receive a timely response.",
                              headers)
        if kind == "500":
            return self.error(request, 500, "InternalServerError", "An internal server error occurred.")
        raise ValueError(kind)

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Request(http.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in http.headers.items()}, body)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        route, match = self._find(request)
        fault = None
        if route is not None and not route.public:
            with self.lock:
                fault = self.faults.draw(request, inner=False)
        if fault == "drop":
            self._record(request, 0, fault)
            http.close_connection = True
            return
        if fault == "stall":
            time.sleep(self.faults.stall_seconds)
            fault = None
        if fault is not None and fault != "lost":
            response = self.fault_response(request, fault)
        else:
            response = self._answer(request, route, match, count=True)
        self._record(request, response.status, fault)
        if fault == "lost":
            http.close_connection = True
            return
        payload = response.encoded()
        try:
            http.send_response(response.status)
            http.send_header("Content-Type", response.content_type)
            http.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            http.close_connection = True  # the client gave up (its timeout): nothing to answer

    def _find(self, request: Request) -> tuple[Route | None, re.Match[str] | None]:
        for route in self._routes:
            if route.method == request.method:
                match = route.pattern.fullmatch(request.path)
                if match:
                    return route, match
        return None, None

    def _answer(self, request: Request, route: Route | None, match: re.Match[str] | None, *,
                count: bool) -> Response:
        if route is None:
            if any(r.pattern.fullmatch(request.path) for r in self._routes):
                return self.error(request, 405, "Request_BadRequest",
                                  f"The HTTP method '{request.method}' is not allowed here.")
            # Graph's answer for a segment it does not know.
            return self.error(request, 400, "BadRequest", f"Resource not found for the segment '{request.path}'.")
        request.match = match
        slot: tuple[str, str] | None = None
        try:
            with self.lock:
                if not route.public:
                    request.principal = self._authorise(request, route)
                    slot = self._take_slot(request) if count else None
            if count:  # never inside a $batch, which holds the lock
                self._wait_at_gate(request)
            with self.lock:
                return route.handler(request)
        except GraphError as error:
            return self.error(request, error.status, error.code, error.message, error.headers)
        except json.JSONDecodeError:
            return self.error(request, 400, "BadRequest", "Unable to read JSON request payload.")
        finally:
            if slot is not None:
                with self.lock:
                    self._in_flight[slot] -= 1

    def _authorise(self, request: Request, route: Route) -> Principal:
        header = request.headers.get("authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        principal = self._tokens.get(token) if token else None
        if principal is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty." if not token else
                             "IDX14100: JWT is not well formed.",
                             {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
        if principal.expires_at <= self.now():
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.",
                             {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
        if "*" not in route.permissions and not principal.permissions & route.permissions:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        mailbox = request.mailbox
        if mailbox is not None:
            self._may_reach(principal, mailbox)
        return principal

    def _may_reach(self, principal: Principal, mailbox: str) -> None:
        if principal.kind == "delegated":
            # Stricter: a delegated token reaches its own mailbox only (no shared or delegated mailboxes).
            if mailbox not in ("me", principal.user):
                raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            return
        if mailbox == "me":
            raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        if self.mailboxes.get(mailbox) != principal.tenant:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{mailbox}' is invalid.")
        allowed = self.app_access.get(principal.app_id)
        if allowed is not None and mailbox not in allowed:
            raise GraphError(403, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant "
                             "configured AppOnly AccessPolicy settings.")

    def _take_slot(self, request: Request) -> tuple[str, str] | None:
        principal, mailbox = request.principal, request.mailbox
        if principal is None or mailbox is None:
            return None
        slot = (principal.app_id, principal.user if mailbox == "me" and principal.user else mailbox)
        if self._in_flight[slot] >= MAILBOX_CONCURRENCY:
            raise GraphError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                             {"Retry-After": "1"})
        self._in_flight[slot] += 1
        self.peak_in_flight[slot] = max(self.peak_in_flight[slot], self._in_flight[slot])
        self._flight_changed.notify_all()
        return slot

    def _wait_at_gate(self, request: Request) -> None:
        with self.lock:
            events = [event for path, event in self._gates if path in request.path]
        for event in events:
            event.wait(GATE_TIMEOUT_SECONDS)

    def _record(self, request: Request, status: int, fault: str | None, *, inner: bool = False) -> None:
        principal = request.principal
        with self.lock:
            self.log.append(Logged(request.method, request.path, request.query, dict(request.headers), status, fault,
                                   principal.app_id if principal else None, principal.user if principal else None,
                                   inner))

    # --- JSON batching ----------------------------------------------------------------------------

    def _batch(self, request: Request) -> Response:
        payload = request.json()
        inner_requests = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(inner_requests, list) or not inner_requests:
            raise GraphError(400, "BadRequest", "Invalid batch payload format.")
        if len(inner_requests) > MAX_BATCH:
            raise GraphError(400, "BadRequest", f"Number of batch requests exceeds the limit of {MAX_BATCH}.")
        ids = [str(item.get("id")) for item in inner_requests]
        if len(set(ids)) != len(ids) or any(i in ("", "None") for i in ids):
            raise GraphError(400, "BadRequest", "Batch request ids must be present and unique.")
        responses = [self._inner(request, item) for item in inner_requests]
        return Response(200, {"responses": responses})

    def _inner(self, outer: Request, item: dict[str, Any]) -> dict[str, Any]:
        url = str(item.get("url") or "")
        if "://" in url or not url.startswith("/"):
            # Stricter: Graph takes a relative URL without the version; an absolute one is refused.
            return {"id": item.get("id"), "status": 400, "headers": {},
                    "body": {"error": {"code": "BadRequest", "message": "Invalid request URL."}}}
        parts = urlsplit(url)
        headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
        headers["authorization"] = outer.headers.get("authorization", "")
        body = item.get("body")
        inner = Request(str(item.get("method") or "GET").upper(), API + parts.path,
                        parse_qs(parts.query, keep_blank_values=True), headers,
                        json.dumps(body).encode() if body is not None else b"")
        fault = self.faults.draw(inner, inner=True)
        if fault is not None:
            response = self.fault_response(inner, fault)
        else:
            route, match = self._find(inner)
            if route is not None and route.handler == self._batch:
                response = self.error(inner, 400, "BadRequest", "A batch cannot hold a batch.")
            else:
                response = self._answer(inner, route, match, count=False)
        self._record(inner, response.status, fault, inner=True)
        answer: dict[str, Any] = {"id": item.get("id"), "status": response.status,
                                  "headers": {"Content-Type": response.content_type, **response.headers}}
        if response.body is not None:
            answer["body"] = response.body if not isinstance(response.body, bytes) else \
                base64.b64encode(response.body).decode()
        return answer


__all__ = ["API", "FAULT_KINDS", "FakeGraph", "Faults", "GraphError", "Logged", "Principal", "Request", "Response"]
