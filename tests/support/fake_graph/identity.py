"""The Microsoft identity platform (Entra ID v2.0 endpoints) on the fake, as msal uses it.

Served: `/<tenant>/v2.0/.well-known/openid-configuration` (https endpoints on the real authority host,
the tenant's id in their paths, as Entra answers), `/<tenant>/oauth2/v2.0/token` (client credentials
with a secret or a certificate's signed assertion, refresh tokens, device codes), `/<tenant>/oauth2/
v2.0/devicecode`, and the page a person opens to enter a device code (`/devicelogin`, which the tests'
session reaches for https://microsoft.com/devicelogin). msal's instance discovery is not served:
coachd turns it off (providers/microsoft/auth.py says why), and a request for it would fail loudly.

Test hooks play the admin's part in the Entra portal: add tenants and users, register apps (with
client secrets, certificates, application permissions and admin consent), revoke consent, expire or
revoke a user's refresh tokens. Errors have Entra's shape: `{"error", "error_description":
"AADSTSnnn: ...", "error_codes": [nnn], "timestamp", "trace_id", "correlation_id"}`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import string
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.support.fake_graph.server import FakeGraph, Principal, Request, Response

PUBLIC_HOST = "login.microsoftonline.com"
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
# Entra's defaults: refresh tokens die after 90 days unused; device codes after 15 minutes.
REFRESH_TOKEN_LIFETIME = timedelta(days=90)
DEVICE_CODE_LIFETIME = timedelta(minutes=15)
CLIENT_CREDENTIALS = "client_credentials"
REFRESH_TOKEN = "refresh_token"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
JWT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Scopes of OpenID Connect itself: granted with any login, never a resource's permission.
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


@dataclass
class User:
    email: str
    tenant: str
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    name: str = ""


@dataclass
class Tenant:
    id: str
    domain: str
    users: dict[str, User] = field(default_factory=dict)


@dataclass
class App:
    """An app registration (single tenant) and its service principal's consents in that tenant."""

    client_id: str
    tenant: str
    public_client: bool = False  # "Allow public client flows": device code needs it
    secrets: dict[str, datetime] = field(default_factory=dict)  # value -> expiry
    certificates: dict[str, Any] = field(default_factory=dict)  # SHA-1 thumbprint (hex, upper) -> public key
    certificates_s256: dict[str, Any] = field(default_factory=dict)  # SHA-256 thumbprint (hex) -> public key
    application_permissions: set[str] = field(default_factory=set)  # admin-consented roles
    delegated_consent: dict[str, set[str]] = field(default_factory=dict)  # user -> consented scopes (short)


@dataclass
class RefreshGrant:
    app_id: str
    tenant: str
    user: str
    scopes: frozenset[str]  # full URIs as asked, e.g. https://graph.microsoft.com/Calendars.ReadWrite
    expires_at: datetime
    revoked_code: int | None = None


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    app_id: str
    tenant: str | None  # None: "organizations" / "common", the user's own
    scopes: tuple[str, ...]
    expires_at: datetime
    approved_by: str | None = None
    declined: bool = False


class AadError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


class FakeIdentity:
    """Entra ID on `fake`, for the authority `https://<host>/<tenant>`: tenants, apps, users and tokens.

    `resources` are the Graph roots tokens may be asked for (`<root>/.default`, `<root>/Mail.Send`):
    the public cloud's and the fake's own (a config's graph_url)."""

    def __init__(self, fake: FakeGraph, *, host: str = PUBLIC_HOST, device_interval: int = 1) -> None:
        self.fake = fake
        self.host = host
        self.device_interval = device_interval
        self.tenants: dict[str, Tenant] = {}
        self.apps: dict[str, App] = {}
        self.refresh_grants: dict[str, RefreshGrant] = {}
        self.device_codes: dict[str, DeviceCode] = {}
        self.resources = {"https://graph.microsoft.com", fake.base_url}
        self.answers: list[tuple[str, int]] = []  # (grant type, status) of every token request
        # Statuses the token endpoint answers next, before looking at the request (an outage):
        # 5xx with Entra's temporarily_unavailable, or 502 with a gateway's HTML page.
        self.token_outages: list[int] = []
        t = r"/(?P<tenant>[A-Za-z0-9.\-]+)"
        fake.route("GET", t + r"/v2\.0/\.well-known/openid-configuration", self._openid, public=True)
        fake.route("POST", t + r"/oauth2/v2\.0/token", self._token, public=True)
        fake.route("POST", t + r"/oauth2/v2\.0/devicecode", self._devicecode, public=True)
        fake.route("POST", r"/devicelogin", self._devicelogin, public=True)

    # --- the admin's part --------------------------------------------------------------------------

    def add_tenant(self, domain: str) -> Tenant:
        tenant = Tenant(str(uuid.uuid4()), domain.lower())
        with self.fake.lock:
            self.tenants[tenant.id] = tenant
        return tenant

    def add_user(self, tenant: Tenant, email: str, name: str = "") -> User:
        user = User(email.lower(), tenant.id, name=name or email.split("@")[0])
        with self.fake.lock:
            tenant.users[user.email] = user
        self.fake.add_mailbox(user.email, tenant.id)
        return user

    def register_app(self, tenant: Tenant, *, public_client: bool = False,
                     application_permissions: Iterable[str] = ()) -> App:
        """An app registration; `application_permissions` are granted with admin consent."""
        app = App(str(uuid.uuid4()), tenant.id, public_client, application_permissions=set(application_permissions))
        with self.fake.lock:
            self.apps[app.client_id] = app
        return app

    def add_secret(self, app: App, lifetime: timedelta = timedelta(days=180)) -> str:
        value = "Fk8Q~" + secrets.token_urlsafe(30)
        with self.fake.lock:
            app.secrets[value] = self.fake.now() + lifetime
        return value

    def certificate_file(self, path: Path, app: App | None, mode: int = 0o600) -> Path:
        """A new key pair and self-signed certificate in one PEM file (uploaded to `app` unless None)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coachd")])
        now = datetime.now(UTC)
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                       .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                       .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256()))
        if app is not None:
            self.upload_certificate(app, certificate)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()) + certificate.public_bytes(serialization.Encoding.PEM)
        path.write_bytes(pem)
        path.chmod(mode)
        return path

    def upload_certificate(self, app: App, certificate: x509.Certificate) -> None:
        with self.fake.lock:
            app.certificates[certificate.fingerprint(hashes.SHA1()).hex().upper()] = certificate.public_key()
            app.certificates_s256[certificate.fingerprint(hashes.SHA256()).hex()] = certificate.public_key()

    def remove_certificates(self, app: App) -> None:
        with self.fake.lock:
            app.certificates.clear()
            app.certificates_s256.clear()

    def revoke_consent(self, app: App, user: str) -> None:
        """The user (or an admin) removed coachd's delegated permissions: its refresh tokens stop working."""
        with self.fake.lock:
            app.delegated_consent.pop(user.lower(), None)
            for grant in self.refresh_grants.values():
                if grant.app_id == app.client_id and grant.user == user.lower():
                    grant.revoked_code = 65001
        self.fake.revoke_access_tokens(app_id=app.client_id, user=user)

    def revoke_sessions(self, user: str) -> None:
        """An admin's "Revoke sessions": every refresh token of the user dies (AADSTS50173)."""
        with self.fake.lock:
            for grant in self.refresh_grants.values():
                if grant.user == user.lower():
                    grant.revoked_code = 50173
        self.fake.revoke_access_tokens(user=user)

    def expire_refresh_tokens(self, user: str) -> None:
        """The user's refresh tokens were unused too long (AADSTS700082)."""
        with self.fake.lock:
            for grant in self.refresh_grants.values():
                if grant.user == user.lower():
                    grant.expires_at = self.fake.now() - timedelta(seconds=1)

    def live_refresh_tokens(self, user: str) -> list[str]:
        with self.fake.lock:
            return [token for token, grant in self.refresh_grants.items() if grant.user == user.lower()
                    and grant.revoked_code is None and grant.expires_at > self.fake.now()]

    def pending_device_codes(self) -> list[DeviceCode]:
        with self.fake.lock:
            return [c for c in self.device_codes.values() if c.approved_by is None and not c.declined]

    # --- endpoints ------------------------------------------------------------------------------------

    def _tenant(self, name: str) -> Tenant | None:
        name = name.lower()
        return self.tenants.get(name) or next((t for t in self.tenants.values() if t.domain == name), None)

    def _endpoint(self, tenant: str, path: str) -> str:
        return f"https://{self.host}/{tenant}{path}"

    def _openid(self, request: Request) -> Response:
        name = request.group("tenant")
        tenant = self._tenant(name)
        if tenant is None and name not in ("organizations", "common"):
            return _aad_error(AadError(400, "invalid_tenant", 90002, f"Tenant '{name}' not found. Check to make "
                                       "sure you have the correct tenant ID and are signing into the correct cloud."))
        tid = tenant.id if tenant else name
        issuer = f"https://{self.host}/{tid if tenant else '{tenantid}'}/v2.0"
        return Response(body={
            "token_endpoint": self._endpoint(tid, "/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": self._endpoint(tid, "/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer,
            "authorization_endpoint": self._endpoint(tid, "/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": self._endpoint(tid, "/oauth2/v2.0/devicecode"),
            "end_session_endpoint": self._endpoint(tid, "/oauth2/v2.0/logout"),
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        })

    def _token(self, request: Request) -> Response:
        form = request.form()
        grant = form.get("grant_type", "")
        if self.token_outages:
            status = self.token_outages.pop(0)
            response = _page(status, "Bad Gateway") if status == 502 else _aad_error(AadError(
                status, "temporarily_unavailable", 50033, "A transient error has occurred. Please try again."))
            self.answers.append((grant, response.status))
            return response
        try:
            tenant = self._tenant(request.group("tenant"))
            if tenant is None:
                raise AadError(400, "invalid_request", 90002, f"Tenant '{request.group('tenant')}' not found.")
            if grant == CLIENT_CREDENTIALS:
                response = self._client_credentials(request, tenant, form)
            elif grant == REFRESH_TOKEN:
                response = self._refresh(tenant, form)
            elif grant == DEVICE_CODE:
                response = self._device_grant(tenant, form)
            else:
                raise AadError(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type "
                                                                     f"'{grant}'.")
        except AadError as error:
            response = _aad_error(error)
        self.answers.append((grant, response.status))
        return response

    def _app(self, tenant: Tenant, form: dict[str, str]) -> App:
        app = self.apps.get(form.get("client_id", ""))
        # Stricter: every app is single-tenant; another tenant does not know it.
        if app is None or app.tenant != tenant.id:
            raise AadError(400, "unauthorized_client", 700016, f"Application with identifier "
                           f"'{form.get('client_id', '')}' was not found in the directory '{tenant.domain}'. This can "
                           "happen if the application has not been installed by the administrator of the tenant.")
        return app

    def _resource_of(self, scope: str) -> tuple[str, str]:
        resource, _, name = scope.rpartition("/")
        if resource not in self.resources:
            raise AadError(400, "invalid_resource", 500011, f"The resource principal named {resource or scope} was "
                           "not found in the tenant.")
        return resource, name

    # client credentials

    def _client_credentials(self, request: Request, tenant: Tenant, form: dict[str, str]) -> Response:
        app = self._app(tenant, form)
        self._authenticate_app(request, app, form)
        scopes = form.get("scope", "").split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise AadError(400, "invalid_scope", 1002012, f"The provided value for scope {form.get('scope', '')} is "
                           "not valid. Client credential flows must have a scope value with /.default suffixed to "
                           "the resource identifier (application ID URI).")
        self._resource_of(scopes[0])
        principal = Principal("app", tenant.id, app.client_id, frozenset(app.application_permissions),
                              self.fake.now() + ACCESS_TOKEN_LIFETIME)
        seconds = int(ACCESS_TOKEN_LIFETIME.total_seconds())
        return Response(body={"token_type": "Bearer", "expires_in": seconds, "ext_expires_in": seconds,
                              "access_token": self.fake.issue_token(principal)})

    def _authenticate_app(self, request: Request, app: App, form: dict[str, str]) -> None:
        if "client_secret" in form:
            expiry = app.secrets.get(form["client_secret"])
            if expiry is None:
                raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                               f"being sent in the request is the client secret value, not the client secret ID, for "
                               f"a secret added to app '{app.client_id}'.")
            if expiry <= self.fake.now():
                raise AadError(401, "invalid_client", 7000222, f"The provided client secret keys for app "
                               f"'{app.client_id}' are expired. Visit the Azure portal to create new keys for your "
                               "app.")
            return
        if form.get("client_assertion_type") == JWT_ASSERTION and form.get("client_assertion"):
            self._verify_assertion(request, app, form["client_assertion"])
            return
        raise AadError(401, "invalid_client", 7000218, "The request body must contain the following parameter: "
                       "'client_assertion' or 'client_secret'.")

    def _verify_assertion(self, request: Request, app: App, assertion: str) -> None:
        def refused(why: str) -> AadError:
            return AadError(401, "invalid_client", 700027, f"Client assertion failed signature validation. ({why})")

        try:
            head_b64, claims_b64, signature_b64 = assertion.split(".")
            header = json.loads(_unb64(head_b64))
            claims = json.loads(_unb64(claims_b64))
            signature = _unb64(signature_b64)
        except ValueError as error:
            raise refused("not a JWT") from error
        key = None
        if "x5t#S256" in header:
            key = app.certificates_s256.get(_unb64(header["x5t#S256"]).hex())
        elif "x5t" in header:
            key = app.certificates.get(_unb64(header["x5t"]).hex().upper())
        if key is None:
            raise AadError(401, "invalid_client", 700027, "Client assertion contains an invalid signature. [Reason - "
                           "The key was not found.]")
        signed = f"{head_b64}.{claims_b64}".encode()
        try:
            if header.get("alg") == "RS256":
                key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            elif header.get("alg") == "PS256":
                key.verify(signature, signed, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                          salt_length=hashes.SHA256.digest_size), hashes.SHA256())
            else:
                raise refused(f"unsupported alg {header.get('alg')!r}")
        except InvalidSignature as error:
            raise refused("bad signature") from error
        audience = f"https://{self.host}{request.path}"
        if claims.get("aud") != audience:
            raise AadError(401, "invalid_client", 700021, f"Client assertion audience claim does not match Realm "
                           f"issuer. Review the documentation at https://aka.ms/certCredentials. ({claims.get('aud')!r} "
                           f"is not {audience!r})")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise AadError(401, "invalid_client", 700023, "Client assertion issuer and subject must be the app id.")
        # The assertion is made on msal's wall clock, not the fake's (which tests may set in 2027).
        if float(claims.get("exp", 0)) < time.time():
            raise AadError(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")

    # delegated: device code and refresh

    def _devicecode(self, request: Request) -> Response:
        form = request.form()
        try:
            name = request.group("tenant")
            tenant = self._tenant(name)
            if tenant is None and name not in ("organizations", "common"):
                raise AadError(400, "invalid_request", 90002, f"Tenant '{name}' not found.")
            app = self.apps.get(form.get("client_id", ""))
            if app is None or (tenant is not None and app.tenant != tenant.id):
                raise AadError(400, "unauthorized_client", 700016, f"Application with identifier "
                               f"'{form.get('client_id', '')}' was not found in the directory.")
            scopes = tuple(form.get("scope", "").split())
            for scope in scopes:
                if scope not in OIDC_SCOPES:
                    self._resource_of(scope)
        except AadError as error:
            return _aad_error(error)
        user_code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
        code = DeviceCode(secrets.token_urlsafe(32), user_code, app.client_id, tenant.id if tenant else None, scopes,
                          self.fake.now() + DEVICE_CODE_LIFETIME)
        self.device_codes[code.device_code] = code
        uri = "https://microsoft.com/devicelogin"
        return Response(body={"user_code": user_code, "device_code": code.device_code, "verification_uri": uri,
                              "expires_in": int(DEVICE_CODE_LIFETIME.total_seconds()),
                              "interval": self.device_interval,
                              "message": f"To sign in, use a web browser to open the page {uri} and enter the code "
                                         f"{user_code} to authenticate."})

    def _devicelogin(self, request: Request) -> Response:
        """The person's side: the code shown on the terminal, the account they sign in with, their consent."""
        form = request.form()
        code = next((c for c in self.device_codes.values() if c.user_code == form.get("otc", "").strip().upper()),
                    None)
        if code is None or code.expires_at <= self.fake.now():
            return _page(400, "That code didn't work. Check the code and try again.")
        login = form.get("login", "").lower()
        tenant = self.tenants.get(code.tenant) if code.tenant else next(
            (t for t in self.tenants.values() if login in t.users), None)
        if tenant is None or login not in tenant.users:
            return _page(400, f"This username may be incorrect: {login}")
        if form.get("consent") != "yes":
            code.declined = True
            return _page(200, "You have declined to sign in to the application on your device.")
        app = self.apps[code.app_id]
        granted = {self._resource_of(s)[1] for s in code.scopes if s not in OIDC_SCOPES}
        app.delegated_consent.setdefault(login, set()).update(granted)
        code.tenant = tenant.id
        code.approved_by = login
        return _page(200, "You have signed in to the application on your device. You may now close this window.")

    def _device_grant(self, tenant: Tenant, form: dict[str, str]) -> Response:
        app = self._app(tenant, form)
        if not app.public_client:
            raise AadError(401, "invalid_client", 7000218, "The request body must contain the following parameter: "
                           "'client_assertion' or 'client_secret'.")
        code = self.device_codes.get(form.get("device_code", ""))
        if code is None or code.app_id != app.client_id:
            raise AadError(400, "invalid_grant", 70000, "The provided value for the input parameter 'device_code' is "
                           "not valid.")
        if code.expires_at <= self.fake.now():
            raise AadError(400, "expired_token", 70020, "The provided value for the input parameter 'device_code' is "
                           "expired.")
        if code.declined:
            raise AadError(400, "authorization_declined", 70019, "The end user declined the authorization request.")
        if code.approved_by is None:
            raise AadError(400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is "
                           "pending. Continue polling.")
        del self.device_codes[code.device_code]  # a device code is redeemed once
        return self._delegated_tokens(app, tenant, code.approved_by, [s for s in code.scopes if s not in OIDC_SCOPES])

    def _refresh(self, tenant: Tenant, form: dict[str, str]) -> Response:
        app = self._app(tenant, form)
        grant = self.refresh_grants.get(form.get("refresh_token", ""))
        if grant is None or grant.app_id != app.client_id:
            raise AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if grant.revoked_code == 65001:
            raise AadError(400, "invalid_grant", 65001, f"The user or administrator has not consented to use the "
                           f"application with ID '{app.client_id}'. Send an interactive authorization request for "
                           "this user and resource.")
        if grant.revoked_code is not None:
            raise AadError(400, "invalid_grant", grant.revoked_code, "The provided grant has been revoked due to a "
                           "user password change or expiration, or the admin revoked the user's sessions.")
        if grant.expires_at <= self.fake.now():
            raise AadError(400, "invalid_grant", 700082, "The refresh token has expired due to inactivity. The token "
                           "was issued on 2026-01-01T00:00:00Z and was inactive for 90.00:00:00.")
        asked = [s for s in form.get("scope", "").split() if s not in OIDC_SCOPES] or sorted(grant.scopes)
        consented = app.delegated_consent.get(grant.user, set())
        missing = [s for s in asked if self._resource_of(s)[1] not in consented]
        if missing:
            raise AadError(400, "invalid_grant", 65001, f"The user or administrator has not consented to use the "
                           f"application with ID '{app.client_id}' for {' '.join(missing)}.")
        # Stricter: Entra rotates refresh tokens; the one redeemed here stops working.
        grant.revoked_code = 50173
        return self._delegated_tokens(app, tenant, grant.user, asked)

    def _delegated_tokens(self, app: App, tenant: Tenant, login: str, scopes: list[str]) -> Response:
        user = tenant.users[login]
        permissions = frozenset(self._resource_of(s)[1] for s in scopes)
        principal = Principal("delegated", tenant.id, app.client_id, permissions,
                              self.fake.now() + ACCESS_TOKEN_LIFETIME, user=login)
        refresh = "1.AQ" + secrets.token_urlsafe(48)
        self.refresh_grants[refresh] = RefreshGrant(app.client_id, tenant.id, login, frozenset(scopes),
                                                    self.fake.now() + REFRESH_TOKEN_LIFETIME)
        seconds = int(ACCESS_TOKEN_LIFETIME.total_seconds())
        client_info = _b64(json.dumps({"uid": user.object_id, "utid": tenant.id}).encode())
        return Response(body={
            "token_type": "Bearer", "scope": " ".join([*scopes, "openid", "profile", "offline_access"]),
            "expires_in": seconds, "ext_expires_in": seconds, "access_token": self.fake.issue_token(principal),
            "refresh_token": refresh, "id_token": self._id_token(app, tenant, user), "client_info": client_info})

    def _id_token(self, app: App, tenant: Tenant, user: User) -> str:
        # msal reads the claims and does not check the signature (it came over the token endpoint's TLS).
        now = int(time.time())
        claims = {"aud": app.client_id, "iss": f"https://{self.host}/{tenant.id}/v2.0", "iat": now, "nbf": now,
                  "exp": now + 3600, "name": user.name, "oid": user.object_id, "preferred_username": user.email,
                  "sub": _b64(user.object_id.encode())[:43], "tid": tenant.id, "ver": "2.0"}
        header = {"typ": "JWT", "alg": "RS256", "kid": "fake"}
        return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(b"unsigned")])


def _aad_error(error: AadError) -> Response:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    description = (f"AADSTS{error.code}: {error.description} Trace ID: {trace} Correlation ID: {correlation} "
                   f"Timestamp: {stamp}")
    return Response(error.status, {"error": error.error, "error_description": description, "error_codes": [error.code],
                                   "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
                                   "error_uri": f"https://{PUBLIC_HOST}/error?code={error.code}"})


def _page(status: int, text: str) -> Response:
    return Response(status, f"<!doctype html><html><body><p>{text}</p></body></html>".encode(),
                    content_type="text/html; charset=utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


__all__ = ["App", "DeviceCode", "FakeIdentity", "Tenant", "User"]
