"""Google's OAuth 2.0 endpoints on the fake: the token endpoint (refresh tokens, service-account JWTs,
authorization codes) and the consent screen of the installed-app loopback flow.

Test hooks play the Google side of an admin's set-up: register an installed-app client (and write
its client-secrets file), mint or revoke a user's refresh token, create a service account with a
real RSA key (and write its key file, as the Cloud console does), delegate scopes to it in the
"Admin console", and add users to the Workspace.

Error answers are Google's: `{"error": ..., "error_description": ...}` at 400/401, never the
JSON API error shape (the token endpoint is not an API).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt

from tests.support.fake_google.server import FakeGoogle, Request, Response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google checks a service account's assertion against its own token endpoint's name, whatever URL
# the assertion was posted to (google-auth always writes this audience, even with another token_uri).
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
AUTH_PATH = "/o/oauth2/auth"
_OPENID_SCOPES = {"email": "https://www.googleapis.com/auth/userinfo.email",
                  "profile": "https://www.googleapis.com/auth/userinfo.profile"}


@dataclass
class InstalledClient:
    """An OAuth client of type "Desktop app" in a Cloud project."""

    client_id: str
    client_secret: str


@dataclass
class RefreshGrant:
    client_id: str
    subject: str
    scopes: frozenset[str]
    revoked: bool = False


@dataclass
class ServiceAccount:
    email: str
    client_id: str  # the number the Admin console's domain-wide delegation asks for
    key_id: str
    private_key_pem: str
    public_key_pem: bytes
    delegated: frozenset[str] = frozenset()
    keys_deleted: bool = False


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    subject: str
    scopes: frozenset[str]
    code_challenge: str
    offline: bool
    consent: bool


@dataclass
class TokenAnswer:
    """One answer of the token endpoint, for tests counting grants."""

    grant_type: str
    status: int
    error: str | None


@dataclass
class FakeOAuth:
    """The token endpoint `POST /token` and the consent endpoint `GET /o/oauth2/auth` on `fake`."""

    fake: FakeGoogle
    clients: dict[str, InstalledClient] = field(default_factory=dict)
    service_accounts: dict[str, ServiceAccount] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    # Who is signed in to the browser that plays the consent screen (None: nobody consents).
    browser_user: str | None = None
    # The person on the consent screen clicks "Cancel": the redirect carries error=access_denied.
    deny_consent: bool = False
    # The person unticks every permission but these on the consent screen (None: grants all asked).
    consent_scopes: frozenset[str] | None = None
    # Each refresh answers a new refresh token and retires the old one (Google rarely does; some
    # providers always do): the client must keep the new one.
    rotate_refresh_tokens: bool = False
    answers: list[TokenAnswer] = field(default_factory=list)
    _refresh: dict[str, RefreshGrant] = field(default_factory=dict)
    _codes: dict[str, AuthorizationCode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fake.route("POST", r"/token", self._token)
        self.fake.route("GET", AUTH_PATH, self._authorize)

    # --- test hooks: the admin's set-up on Google's side ----------------------------------------

    def register_client(self) -> InstalledClient:
        client = InstalledClient(f"{secrets.randbelow(10**12):012d}-fake.apps.googleusercontent.com",
                                 "GOCSPX-" + secrets.token_urlsafe(21))
        self.clients[client.client_id] = client
        return client

    def client_secrets_file(self, path: Path, client: InstalledClient) -> Path:
        """The JSON file the Cloud console downloads for a Desktop-app client, pointing at this fake."""
        installed = {"client_id": client.client_id, "project_id": "coachd-fake",
                     "auth_uri": self.fake.base_url + AUTH_PATH, "token_uri": self.fake.token_uri,
                     "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                     "client_secret": client.client_secret, "redirect_uris": ["http://localhost"]}
        path.write_text(json.dumps({"installed": installed}))
        os.chmod(path, 0o600)
        return path

    def mint_refresh_token(self, client: InstalledClient, subject: str, scopes: Iterable[str]) -> str:
        """A refresh token as a past consent would have left it."""
        token = "1//fake-" + secrets.token_urlsafe(32)
        with self.fake.lock:
            self._refresh[token] = RefreshGrant(client.client_id, subject, frozenset(scopes))
        return token

    def revoke(self, refresh_token: str) -> None:
        """The user revoked the app (or the token expired): it and its access tokens stop working."""
        with self.fake.lock:
            grant = self._refresh[refresh_token]
            grant.revoked = True
            self.fake.revoke_access_tokens(grant.subject)

    def live_refresh_tokens(self, subject: str) -> list[str]:
        with self.fake.lock:
            return [t for t, g in self._refresh.items() if g.subject == subject and not g.revoked]

    def add_service_account(self, name: str = "coachd", *, delegated: Iterable[str] = ()) -> ServiceAccount:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        account = ServiceAccount(f"{name}@coachd-fake.iam.gserviceaccount.com",
                                 f"1{secrets.randbelow(10**20):020d}", secrets.token_hex(20), private, public,
                                 frozenset(delegated))
        self.service_accounts[account.email] = account
        return account

    def delegate(self, account: ServiceAccount, scopes: Iterable[str]) -> None:
        """Domain-wide delegation in the Admin console: client id plus the scopes allowed."""
        with self.fake.lock:
            account.delegated = frozenset(scopes)

    def key_file(self, path: Path, account: ServiceAccount, mode: int = 0o600) -> Path:
        """The key file "Create key: JSON" downloads, with the mode it is given."""
        info = {"type": "service_account", "project_id": "coachd-fake", "private_key_id": account.key_id,
                "private_key": account.private_key_pem, "client_email": account.email,
                "client_id": account.client_id, "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": "https://oauth2.googleapis.com/token",
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + account.email,
                "universe_domain": "googleapis.com"}
        path.write_text(json.dumps(info, indent=2))
        os.chmod(path, mode)
        return path

    # --- the token endpoint ----------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = request.form()
        grant_type = form.get("grant_type", "")
        if grant_type == "refresh_token":
            answer = self._refresh_grant(form)
        elif grant_type == JWT_BEARER:
            answer = self._jwt_grant(form)
        elif grant_type == "authorization_code":
            answer = self._code_grant(form)
        else:
            answer = _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        self.answers.append(TokenAnswer(grant_type, answer.status, (answer.body or {}).get("error")))
        return answer

    def _client(self, form: dict[str, str]) -> InstalledClient | Response:
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if not secrets.compare_digest(client.client_secret, form.get("client_secret", "")):
            return _oauth_error(401, "invalid_client", "Unauthorized")
        return client

    def _refresh_grant(self, form: dict[str, str]) -> Response:
        client = self._client(form)
        if isinstance(client, Response):
            return client
        grant = self._refresh.get(form.get("refresh_token", ""))
        if grant is None or grant.revoked or grant.client_id != client.client_id:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        asked = frozenset(form["scope"].split()) if form.get("scope") else grant.scopes
        # A refresh may narrow the grant, never widen it.
        if not asked <= grant.scopes:
            return _oauth_error(400, "invalid_scope", "Bad Request")
        extra: dict[str, str] = {}
        if self.rotate_refresh_tokens:
            grant.revoked = True
            extra["refresh_token"] = self.mint_refresh_token(client, grant.subject, grant.scopes)
        return self._access(grant.subject, asked, client.client_id, **extra)

    def _access(self, subject: str, scopes: frozenset[str], client_id: str, **extra: str) -> Response:
        token = self.fake.issue_access_token(subject, sorted(scopes), ACCESS_TOKEN_LIFETIME, client_id)
        body = {"access_token": token, "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()) - 1,
                "scope": " ".join(sorted(scopes)), "token_type": "Bearer", **extra}
        return Response(200, body, {"Cache-Control": "no-store"})

    def _jwt_grant(self, form: dict[str, str]) -> Response:
        assertion = form.get("assertion", "")
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header = json.loads(_unb64(header_b64))
            claims = json.loads(_unb64(payload_b64))
            signature = _unb64(signature_b64)
        except ValueError:
            return _oauth_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token "
                                                      "(60 minutes) and in a reasonable timeframe.")
        account = self.service_accounts.get(str(claims.get("iss", "")))
        if account is None:
            return _oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        verifier = crypt.RSAVerifier.from_string(account.public_key_pem)
        signed = f"{header_b64}.{payload_b64}".encode()
        if account.keys_deleted or header.get("alg") != "RS256" or header.get("kid") != account.key_id \
                or not verifier.verify(signed, signature):
            return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return _oauth_error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        # Stricter: only the assertion's own lifetime is checked (at most an hour, as Google's limit),
        # not its times against the fake's clock: google-auth stamps the machine's clock and tests
        # may run the fake on a virtual one.
        lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0))
        if not 0 < lifetime <= 3600:
            return _oauth_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token "
                                                      "(60 minutes) and in a reasonable timeframe.")
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            return _oauth_error(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        subject = claims.get("sub")
        if subject is None:
            return self._access(account.email, scopes, account.client_id)
        if subject not in self.users:
            return _oauth_error(400, "invalid_grant", "Invalid email or User ID")
        if not scopes <= account.delegated:
            return _oauth_error(401, "unauthorized_client",
                                "Client is unauthorized to retrieve access tokens using this method, or client "
                                "not authorized for any of the scopes requested.")
        return self._access(subject, scopes, account.client_id)

    def _code_grant(self, form: dict[str, str]) -> Response:
        client = self._client(form)
        if isinstance(client, Response):
            return client
        code = self._codes.pop(form.get("code", ""), None)  # single use, even when refused below
        if code is None or code.client_id != client.client_id:
            return _oauth_error(400, "invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier", "")
        if not verifier or _s256(verifier) != code.code_challenge:
            return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        extra: dict[str, str] = {}
        # Stricter: a refresh token only when both offline access and a fresh consent were asked
        # (Google may leave it out on a repeated consent without prompt=consent).
        if code.offline and code.consent:
            extra["refresh_token"] = self.mint_refresh_token(client, code.subject, code.scopes)
        if "openid" in code.scopes:
            extra["id_token"] = self._id_token(client.client_id, code.subject)
        return self._access(code.subject, code.scopes, client.client_id, **extra)

    def _id_token(self, client_id: str, subject: str) -> str:
        """An OpenID Connect ID token for `subject`. Its signature is random bytes: a client that
        takes it straight from the token endpoint over TLS may rely on TLS instead (OIDC Core
        3.1.3.7), and one that checks the signature would rightly refuse this one."""
        now = int(self.fake.now().timestamp())
        header = {"alg": "RS256", "kid": "fake", "typ": "JWT"}
        claims = {"iss": "https://accounts.google.com", "aud": client_id, "azp": client_id,
                  "sub": str(abs(hash(subject)) % 10**21), "email": subject, "email_verified": True,
                  "iat": now, "exp": now + 3600}
        parts = [json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(32)]
        return ".".join(base64.urlsafe_b64encode(part).decode().rstrip("=") for part in parts)

    # --- the consent screen ----------------------------------------------------------------------

    def _authorize(self, request: Request) -> Response:
        """Consents at once for `browser_user` and redirects to the loopback listener."""
        client = self.clients.get(request.arg("client_id") or "")
        if client is None:
            return _error_page(401, "invalid_client: The OAuth client was not found.")
        redirect_uri = request.arg("redirect_uri") or ""
        target = urlsplit(redirect_uri)
        # Desktop clients may redirect to a loopback address on any port, nowhere else.
        if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost", "::1"):
            return _error_page(400, "redirect_uri_mismatch")
        if request.arg("response_type") != "code":
            return _error_page(400, "unsupported_response_type")
        # Google answers the short OpenID names by their full scope URLs.
        scopes = frozenset(_OPENID_SCOPES.get(scope, scope) for scope in (request.arg("scope") or "").split())
        challenge = request.arg("code_challenge") or ""
        # Stricter: PKCE is required (Google makes it optional for Desktop clients).
        if not scopes or not challenge or request.arg("code_challenge_method") != "S256":
            return _error_page(400, "invalid_request")
        answer: dict[str, str] = {}
        if self.deny_consent or self.browser_user is None:
            answer["error"] = "access_denied"
        else:
            if self.consent_scopes is not None:
                scopes = scopes & self.consent_scopes
            code = "4/fake-" + secrets.token_urlsafe(24)
            self._codes[code] = AuthorizationCode(
                client.client_id, redirect_uri, self.browser_user, scopes, challenge,
                offline=request.arg("access_type") == "offline", consent=request.arg("prompt") == "consent")
            answer.update(code=code, scope=" ".join(sorted(scopes)))
        if request.arg("state") is not None:
            answer["state"] = request.arg("state") or ""
        separator = "&" if target.query else "?"
        return Response(302, None, {"Location": redirect_uri + separator + urlencode(answer)})


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})


def _error_page(status: int, what: str) -> Response:
    return Response(status, f"<html><body>Error {status}: {what}</body></html>".encode(),
                    content_type="text/html; charset=utf-8")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def query_of(url: str) -> dict[str, str]:
    """The query parameters of a URL (the redirect a test reads)."""
    return dict(parse_qsl(urlsplit(url).query))


__all__ = ["AUTH_PATH", "FakeOAuth", "InstalledClient", "ServiceAccount", "query_of"]
