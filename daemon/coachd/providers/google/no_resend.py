"""An httplib2 client that never sends a request again by itself when its answer was lost.

httplib2 takes a connection closed before the status line (http.client.BadStatusLine, which
RemoteDisconnected is) for a stale kept-alive connection and re-sends the request at once, POSTs
included. For Gmail's messages.send, which has no idempotency key, that is a second email whenever
Google carried out the first send and the answer was lost on the way. With this client the loss
reaches the caller as a connection error, and the caller decides (gmail_send.py asks Gmail whether
the message went before sending it again).
"""

from __future__ import annotations

import http.client
from typing import Any

import httplib2


class AnswerLost(ConnectionError):
    """The connection closed after the request went out and before any answer came back: the request
    may or may not have been carried out."""


class _NoResendMixin:
    def getresponse(self) -> http.client.HTTPResponse:
        try:
            return super().getresponse()  # type: ignore[misc, no-any-return]
        except http.client.BadStatusLine as error:
            # Not a BadStatusLine any more: httplib2 re-sends on that one, and on no other OSError.
            raise AnswerLost(f"the connection closed before Google answered ({error!r})") from error


class _HTTPConnection(_NoResendMixin, httplib2.HTTPConnectionWithTimeout):
    pass


class _HTTPSConnection(_NoResendMixin, httplib2.HTTPSConnectionWithTimeout):
    pass


class NoResendHttp(httplib2.Http):
    """httplib2.Http whose connections report a lost answer instead of having it re-sent."""

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None,
                redirections: int = httplib2.DEFAULT_MAX_REDIRECTS, connection_type: Any = None) -> Any:
        if connection_type is None:
            connection_type = _HTTPSConnection if uri.lower().startswith("https:") else _HTTPConnection
        return super().request(uri, method, body, headers, redirections, connection_type)
