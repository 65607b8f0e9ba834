"""The tests' way past msal's refusal of an http authority: keep the real https hosts and rewrite them.

msal only takes an https authority, and this machine sets REQUESTS_CA_BUNDLE, which overrides any
`verify` given to requests, so serving the fake over TLS would mean swapping the machine's CA bundle.
Instead the sessions coachd builds (providers/microsoft/transport.py) are swapped, in tests only, for
sessions whose adapter sends https://login.microsoftonline.com/... (and the device-login page at
https://microsoft.com/devicelogin) to the fake over plain http on 127.0.0.1. `trust_env = False`
keeps a proxy from the environment out of loopback traffic. Graph itself needs no rewrite: a
config's `graph_url` names the fake directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from coachd.providers.microsoft.transport import TimeoutSession, use_sessions
from tests.support.fake_graph.server import FakeGraph

HOSTS = ("login.microsoftonline.com", "microsoft.com")


class RedirectAdapter(HTTPAdapter):
    """Sends every request it is mounted for to `netloc` over http, path and query unchanged."""

    def __init__(self, netloc: str) -> None:
        super().__init__()
        self.netloc = netloc

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(("http", self.netloc, parts.path, parts.query, parts.fragment))
        return super().send(request, *args, **kwargs)


def redirecting_session(base_url: str, hosts: Sequence[str] = HOSTS, timeout: float = 30.0) -> TimeoutSession:
    """A session sending https://<host>/... for each of `hosts` to the fake at `base_url`."""
    session = TimeoutSession(timeout)
    session.trust_env = False
    netloc = urlsplit(base_url).netloc
    for host in hosts:
        session.mount(f"https://{host}/", RedirectAdapter(netloc))
    return session


@contextmanager
def redirected(fake: FakeGraph, hosts: Sequence[str] = HOSTS) -> Iterator[None]:
    """While the block runs, every session coachd builds for Microsoft reaches `fake` for `hosts`."""
    base_url = fake.base_url
    previous = use_sessions(lambda timeout: redirecting_session(base_url, hosts, timeout))
    try:
        yield
    finally:
        use_sessions(previous)
