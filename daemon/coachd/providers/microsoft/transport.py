"""The HTTP sessions msal and the Graph client talk through: a timeout on every request, one seam to swap them.

msal takes any requests-like `http_client`; giving it ours means its token requests get the same
timeout as Graph's, and that a test (or an embedder behind an unusual network) can hand both a
session of its own with `use_sessions` (the tests' fake keeps the real https authority and rewrites
its host to 127.0.0.1: msal refuses an http authority). Production never calls `use_sessions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

DEFAULT_TIMEOUT_SECONDS = 30.0


class TimeoutSession(requests.Session):
    """A requests.Session whose requests wait at most `timeout` seconds unless a call says otherwise
    (requests has no default: a server that never answers would hold a job forever)."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


SessionFactory = Callable[[float], TimeoutSession]
_factory: SessionFactory = TimeoutSession


def new_session(timeout: float = DEFAULT_TIMEOUT_SECONDS) -> TimeoutSession:
    """A session for msal or Graph, from the factory in use."""
    return _factory(timeout)


def use_sessions(factory: SessionFactory | None) -> SessionFactory:
    """Build sessions with `factory` from now on (None: the default); returns the factory it replaces."""
    global _factory
    previous = _factory
    _factory = factory or TimeoutSession
    return previous
