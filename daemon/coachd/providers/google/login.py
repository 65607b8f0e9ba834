"""The installed-app OAuth login (RFC 8252): consent in any browser, the answer back on loopback or pasted.

A person opens the printed URL in a browser (on any machine), consents, and Google redirects to
http://127.0.0.1:PORT/ on this machine, where a one-shot listener takes the code. On a headless
server the browser runs elsewhere and that redirect fails to load: the person pastes the URL it
shows into the terminal instead. Either way the code is exchanged at the token endpoint with its
PKCE verifier (RFC 7636, S256), for a refresh token: asked with access_type=offline and
prompt=consent, the only request for which Google reliably returns one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httplib2

from coachd.providers.google.auth import ClientSecrets

EXCHANGE_TIMEOUT_SECONDS = 30.0
IDENTITY_SCOPES = ("openid", "email")
_DONE_PAGE = (b"<!doctype html><html><body><p>coachd received Google's answer. You can close this window "
              b"and go back to the terminal.</p></body></html>")


class LoginFailed(Exception):
    """The login did not end with a refresh token; the message says why (never a token)."""


@dataclass(frozen=True)
class LoginResult:
    refresh_token: str
    scopes: tuple[str, ...]


@dataclass
class LoopbackLogin:
    """One login: `start()` opens the listener and gives the URL to show; `answer_from_url` takes a
    pasted redirect; `wait()` returns the authorization code; `exchange()` the refresh token."""

    client: ClientSecrets
    scopes: Sequence[str]
    token_uri: str
    account: str | None = None  # who must log in: the login hint, checked against the ID token
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(64))
    answers: queue.Queue[dict[str, str]] = field(default_factory=queue.Queue)
    _server: HTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def redirect_uri(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self) -> str:
        """Listen on a free loopback port; return the consent URL to show."""
        login = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line holds the code: never logged

            def do_GET(self) -> None:
                answer = dict(parse_qsl(urlsplit(self.path).query))
                if "code" not in answer and "error" not in answer:
                    self.send_error(404)  # a browser's favicon and the like
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(_DONE_PAGE)))
                self.end_headers()
                self.wfile.write(_DONE_PAGE)
                login.answers.put(answer)

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="google-login",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        # openid and email on top of the roles' scopes: the ID token says which account consented.
        query = {"client_id": self.client.client_id, "redirect_uri": self.redirect_uri, "response_type": "code",
                 "scope": " ".join([*self.scopes, *IDENTITY_SCOPES]), "access_type": "offline", "prompt": "consent",
                 "include_granted_scopes": "false", "state": self.state,
                 "code_challenge": _s256(self.verifier), "code_challenge_method": "S256"}
        if self.account:
            query["login_hint"] = self.account
        separator = "&" if urlsplit(self.client.auth_uri).query else "?"
        return self.client.auth_uri + separator + urlencode(query)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer_from_url(self, text: str) -> bool:
        """Take a pasted redirect URL (or its query); False when it carries no answer."""
        text = text.strip()
        if not text:
            return False
        answer = dict(parse_qsl(urlsplit(text).query if "://" in text or text.startswith("/") else
                                text.lstrip("?")))
        if "code" not in answer and "error" not in answer:
            return False
        self.answers.put(answer)
        return True

    def wait(self, timeout: float) -> str:
        """The authorization code, from whichever answer comes first within `timeout` seconds."""
        try:
            answer = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise LoginFailed(f"no answer from the browser within {timeout:g} seconds; run the command again "
                              "(or paste the address the browser was sent to)") from None
        if not secrets.compare_digest(answer.get("state", ""), self.state):
            raise LoginFailed("the answer does not belong to this login (its state differs): use the URL "
                              "this command printed, and run it again")
        if "error" in answer:
            raise LoginFailed(f"Google did not grant access: {answer['error']}"
                              + (f" ({answer['error_description']})" if answer.get("error_description") else ""))
        return answer["code"]

    def exchange(self, code: str) -> LoginResult:
        """The refresh token for `code`; refused when Google grants less than was asked."""
        body = urlencode({"grant_type": "authorization_code", "code": code, "client_id": self.client.client_id,
                          "client_secret": self.client.client_secret, "redirect_uri": self.redirect_uri,
                          "code_verifier": self.verifier})
        try:
            response, content = httplib2.Http(timeout=EXCHANGE_TIMEOUT_SECONDS).request(
                self.token_uri, "POST", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        except (httplib2.HttpLib2Error, OSError) as error:
            raise LoginFailed(f"could not reach Google's token endpoint {self.token_uri}: {error}") from None
        try:
            data = json.loads(content)
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.status != 200:
            # error and error_description only: nothing else of the answer is repeated.
            detail = data.get("error") or f"HTTP {response.status}"
            description = data.get("error_description")
            raise LoginFailed(f"Google refused the login's code at {self.token_uri}: {detail}"
                              + (f" ({description})" if description else ""))
        refresh_token = data.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise LoginFailed("Google gave no refresh token (offline access was asked): remove coachd's access "
                              "at https://myaccount.google.com/permissions and run the command again")
        granted = tuple(str(data.get("scope") or " ".join(self.scopes)).split())
        missing = sorted(set(self.scopes) - set(granted))
        if missing:
            raise LoginFailed(f"the consent did not grant {' '.join(missing)}: run the command again and allow "
                              "every permission asked")
        email = _id_token_email(data.get("id_token"))
        if self.account and email is not None and email.lower() != self.account.lower():
            # Kept, this login would book and mail as another person while coachd believes it is the organizer.
            raise LoginFailed(f"the browser logged in as {email}, but coachd acts as {self.account}: run the "
                              f"command again and sign in as {self.account} (or set auth.subject: {email})")
        if self.account and email is None:
            raise LoginFailed("Google's answer does not say which account logged in (no ID token with an email)")
        return LoginResult(refresh_token, tuple(scope for scope in granted if scope in self.scopes))


def _id_token_email(token: object) -> str | None:
    """The `email` claim of an ID token taken straight from the token endpoint. Its signature is not
    checked: the token came over the connection to the token endpoint itself, whose TLS vouches for
    it (OpenID Connect Core 3.1.3.7), and it decides nothing but whether to refuse the login."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return email if isinstance(email, str) and email else None


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
