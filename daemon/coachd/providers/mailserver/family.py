"""The mailserver family: real mail servers, the smtp sender and the imap inbox."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from coachd.providers.family import Family, Offer, ProviderSection, beside_the_config

_FACTORIES = "coachd.providers.mailserver.factories"
TLS = Literal["implicit", "starttls", "none"]
_DEFAULT_PORTS = {("smtp", "implicit"): 465, ("smtp", "starttls"): 587, ("smtp", "none"): 25,
                  ("imap", "implicit"): 993, ("imap", "starttls"): 143, ("imap", "none"): 143}


def _need_host(value: str | None, provider: str) -> str:
    # Optional in the model only so that a missing host is told as what it is for.
    if value is None:
        raise PydanticCustomError("host", f"required when provider is {provider}")
    return value


class _Server(ProviderSection):
    """What both mail servers take: where they are and how to log in."""

    @property
    def effective_port(self) -> int | None:
        return self.port or _DEFAULT_PORTS.get((self.provider, self.tls))  # type: ignore[attr-defined]

    def options(self) -> dict[str, object]:
        return {**super().options(), "port": self.effective_port}


class SentFolderSection(BaseModel):
    """The IMAP folder the smtp server files each message it sends into, asked after a crash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(description="The IMAP server's host name.")
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="The IMAP server's port. Default: 993, or 143 without implicit TLS.")
    tls: TLS = Field(default="implicit",
                     description="implicit (TLS from the start), starttls, or none (a server on this machine only).")
    username: str = Field(description="The IMAP login.")
    password_env: str = Field(description="Environment variable holding the IMAP password.")
    ca_file: str | None = Field(default=None, description="PEM file of the certificate authorities to trust, "
                                "relative to this file. Default: the system's trust store.")
    folder: str = Field(default="Sent", description="The folder the server files sent mail into.")

    @field_validator("ca_file")
    @classmethod
    def _beside_the_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return beside_the_config(value, info)


class SmtpSenderSection(_Server):
    """Mail handed to an SMTP server (a relay or a submission port)."""

    provider: Literal["smtp"] = Field(description="smtp: an SMTP server.")
    host: str | None = Field(default=None, validate_default=True, description="The server's host name.")
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="The server's port. Default: 465, 587 or 25 by tls.")
    username: str | None = Field(default=None, description="The login. Default: no login.")
    password_env: str | None = Field(default=None, description="Environment variable holding the password.")
    tls: TLS = Field(default="starttls",
                     description="implicit (TLS from the start), starttls, or none (local relays only).")
    sent_folder: SentFolderSection | None = Field(
        default=None,
        description="Only for a server that files every message sent over SMTP into an IMAP folder by itself "
        "(Gmail, Microsoft 365 and many hosted services; not a plain Postfix): after a crash while an email "
        "was being sent, coachd looks for it there by Message-ID instead of sending it again. Default: none; "
        "such an email is sent again and counted in `coachd status`.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str:
        return _need_host(value, "smtp")


class ImapInboxSection(_Server):
    """Replies read from a folder of an IMAP mailbox."""

    provider: Literal["imap"] = Field(description="imap: an IMAP mailbox.")
    host: str | None = Field(default=None, validate_default=True, description="The server's host name.")
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="The server's port. Default: 993, or 143 without implicit TLS.")
    username: str | None = Field(default=None, description="The login (required).")
    password_env: str | None = Field(default=None,
                                     description="Environment variable holding the password (required).")
    tls: TLS = Field(default="implicit",
                     description="implicit (TLS from the start), starttls, or none (a server on this machine only).")
    ca_file: str | None = Field(
        default=None,
        description="PEM file of the certificate authorities to trust for the server, relative to this "
        "file. Default: the system's trust store.",
    )
    folder: str = Field(default="INBOX", description="The folder to read replies from.")
    processed_folder: str | None = Field(
        default=None,
        description="Move processed replies to this folder (created when missing). Default: leave them "
        "in `folder`, flagged \\Seen and $CoachdProcessed.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str:
        return _need_host(value, "imap")

    @field_validator("ca_file")
    @classmethod
    def _beside_the_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return beside_the_config(value, info)


FAMILY = Family("mailserver", (
    Offer("send", "smtp", SmtpSenderSection, f"{_FACTORIES}:smtp_sender"),
    Offer("receive", "imap", ImapInboxSection, f"{_FACTORIES}:imap_inbox"),
))
