"""Real SMTP servers for the tests: aiosmtpd on loopback, with TLS from a throwaway CA, and misbehaving
variants (a server that drops the connection mid-batch, one that answers 4xx first)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "coachd", "s3cret"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Recorder:
    """Stores what it accepts; `drop_on` / `defer_on` make it misbehave for given message numbers."""

    received: list[Received] = field(default_factory=list)
    sessions: int = 0
    drop_on: set[int] = field(default_factory=set)  # close the connection instead of answering DATA
    defer_on: set[int] = field(default_factory=set)  # answer 451 to DATA, once each
    refuse_to: set[str] = field(default_factory=set)  # 550 for these recipients
    seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse_to:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.seen += 1
            number = self.seen
            if number in self.drop_on:
                self.drop_on.discard(number)
                server.transport.close()
                return "421 closing"
            if number in self.defer_on:
                self.defer_on.discard(number)
                return "451 4.3.0 try again later"
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


def tls_contexts() -> Tls:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return Tls(server, client)


def _authenticate(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 235 or 535 itself


@contextmanager
def smtp_server(recorder: Recorder, *, mode: str = "none", tls: Tls | None = None,
                auth: bool = False) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1 for the block; yields its port. mode: none, starttls, implicit."""
    port = free_port()
    kwargs: dict = {"hostname": "127.0.0.1", "port": port, "ready_timeout": 5.0}
    if mode == "starttls":
        assert tls is not None
        kwargs |= {"tls_context": tls.server, "require_starttls": True}
    elif mode == "implicit":
        assert tls is not None
        kwargs["ssl_context"] = tls.server
    if auth:
        # aiosmtpd counts only STARTTLS as TLS; an implicit-TLS socket is encrypted from the start.
        kwargs |= {"authenticator": _authenticate, "auth_require_tls": mode == "starttls"}
    controller = Controller(recorder, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
