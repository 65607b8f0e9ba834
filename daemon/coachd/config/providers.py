"""The organizer and its provider blocks: calendar, mail out, mail in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import EmailStr, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from coachd.config.settings import Section

TLS = Literal["implicit", "starttls", "none"]
_DEFAULT_PORTS = {("smtp", "implicit"): 465, ("smtp", "starttls"): 587, ("smtp", "none"): 25,
                  ("imap", "implicit"): 993, ("imap", "starttls"): 143, ("imap", "none"): 143}


def _need_host(value: str | None, info: ValidationInfo, servers: tuple[str, ...]) -> str | None:
    provider = info.data.get("provider")
    if value is None and provider in servers:
        raise PydanticCustomError("host", f"required when provider is {provider}")
    return value


class CalendarProvider(Section):
    """Where the organizer's calendar lives: sessions are booked there and invitations sent from it."""

    provider: Literal["local", "google", "outlook"] = Field(
        default="local", description="local (a folder of .ics files in the state directory), google or outlook."
    )
    calendar_id: str | None = Field(
        default=None, description="google/outlook: the calendar to book in. Default: the account's primary calendar."
    )
    credentials: str | None = Field(
        default=None,
        description="google: OAuth client or service-account JSON file, relative to this file.",
    )
    tenant: str | None = Field(default=None, description="outlook: the Microsoft Entra tenant id or domain.")
    client_id: str | None = Field(default=None, description="outlook: the application (client) id.")
    secret_env: str | None = Field(
        default=None, description="google/outlook: environment variable holding the client secret."
    )
    user: str | None = Field(
        default=None, description="outlook: the mailbox whose calendar is used. Default: the organizer's email."
    )


class SendProvider(Section):
    """How coachd sends mail."""

    provider: Literal["file", "smtp", "gmail", "outlook"] = Field(
        default="file", description="file (.eml files in the state directory), smtp, gmail or outlook."
    )
    host: str | None = Field(default=None, validate_default=True, description="smtp: the server's host name.")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="smtp: the server's port. Default: 465, 587 or 25 by tls."
    )
    username: str | None = Field(default=None, description="smtp: the login. Default: no login.")
    password_env: str | None = Field(default=None, description="smtp: environment variable holding the password.")
    tls: TLS = Field(
        default="starttls", description="smtp: implicit (TLS from the start), starttls, or none (local relays only)."
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _need_host(value, info, ("smtp",))

    @property
    def effective_port(self) -> int | None:
        return self.port or _DEFAULT_PORTS.get((self.provider, self.tls))


class ReceiveProvider(Section):
    """Where replies to coachd arrive."""

    provider: Literal["maildir", "imap", "gmail", "outlook"] = Field(
        default="maildir", description="maildir (inbox/ in the state directory), imap, gmail or outlook."
    )
    host: str | None = Field(default=None, validate_default=True, description="imap: the server's host name.")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="imap: the server's port. Default: 993, or 143 without implicit TLS."
    )
    username: str | None = Field(default=None, description="imap: the login (required).")
    password_env: str | None = Field(
        default=None, description="imap: environment variable holding the password (required)."
    )
    tls: TLS = Field(
        default="implicit",
        description="imap: implicit (TLS from the start), starttls, or none (a server on this machine only).",
    )
    ca_file: str | None = Field(
        default=None,
        description="imap: PEM file of the certificate authorities to trust for the server, relative to this "
        "file. Default: the system's trust store.",
    )
    folder: str = Field(default="INBOX", description="imap/gmail/outlook: the folder to read replies from.")
    processed_folder: str | None = Field(
        default=None,
        description="imap: move processed replies to this folder (created when missing). Default: leave them "
        "in `folder`, flagged \\Seen and $CoachdProcessed.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _need_host(value, info, ("imap",))

    @field_validator("ca_file")
    @classmethod
    def _beside_the_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Like busy: files, relative to the config file; resolved here because the provider is
        # built far from the file it was written in.
        source = (info.context or {}).get("source")
        if value is None or source is None:
            return value
        return str(Path(source).absolute().parent / Path(value).expanduser())

    @property
    def effective_port(self) -> int | None:
        return self.port or _DEFAULT_PORTS.get((self.provider, self.tls))


class Organizer(Section):
    """Who sends the invitations and the mail: usually a coaching office mailbox."""

    name: str = Field(min_length=1, description="Display name on invitations and mail.")
    email: EmailStr = Field(description="The organizer's address; replies come back to it.")
    calendar: CalendarProvider = Field(default=CalendarProvider(), description="The organizer's calendar.")
    send: SendProvider = Field(default=SendProvider(), description="Outgoing mail.")
    receive: ReceiveProvider = Field(default=ReceiveProvider(), description="Incoming replies.")
