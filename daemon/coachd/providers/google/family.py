"""The google family: Google Calendar, Gmail and Workspace free/busy, and how each is authorised.

Every Google section takes an `api_root` (a proxy or private endpoint; the tests' fake) and an
`auth:` block naming one of the two ways a Workspace admin authorises coachd: a service account
with domain-wide delegation (a key file) or an installed-app OAuth client (a client-secrets file,
then `coachd auth google CONFIG` once). Light on purpose: the registry imports this module to
validate any config, so nothing here imports Google's libraries.
"""

from __future__ import annotations

from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from coachd.providers.family import Family, Offer, ProviderSection, beside_the_config

DEFAULT_API_ROOT = "https://www.googleapis.com/"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
_SCOPE = "https://www.googleapis.com/auth/"
# Least privilege, one scope per role: what the README lists and a Workspace admin delegates.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "calendar": (_SCOPE + "calendar.events",),
    "busy": (_SCOPE + "calendar.freebusy",),
    "send": (_SCOPE + "gmail.send",),
    "receive": (_SCOPE + "gmail.modify",),  # read replies and label them processed; never delete
}


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s) URL for {what}, got {value!r}")
    return value


class GoogleAuth(BaseModel):
    """How coachd gets Google's access tokens: exactly one of `service_account_key` or `client_secrets`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_account_key: str | None = Field(
        default=None, description="A service account's JSON key file (mode 0600), relative to this file: the "
        "service account acts for `subject` through domain-wide delegation.")
    client_secrets: str | None = Field(
        default=None, description="An OAuth client of type Desktop app (its JSON file, mode 0600), relative to "
        "this file: `coachd auth google CONFIG` logs `subject` in once and keeps the refresh token.")
    subject: str | None = Field(
        default=None, description="The Workspace user coachd acts as (impersonated, or logged in). "
        "Default: the organizer's email.")
    token_uri: str = Field(default=DEFAULT_TOKEN_URI, description="Google's OAuth token endpoint.")
    # The config file this block came from, for messages telling the admin which command to run.
    _config_file: str | None = PrivateAttr(default=None)

    @field_validator("service_account_key", "client_secrets")
    @classmethod
    def _beside_the_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return beside_the_config(value, info)

    @field_validator("token_uri")
    @classmethod
    def _token_uri_is_a_url(cls, value: str) -> str:
        return _http_url(value, "the token endpoint")

    @model_validator(mode="after")
    def _one_way(self, info: ValidationInfo) -> Self:
        if (self.service_account_key is None) == (self.client_secrets is None):
            raise ValueError("give exactly one of service_account_key (a service account with domain-wide "
                             "delegation) or client_secrets (an OAuth client for `coachd auth google`)")
        source = (info.context or {}).get("source")
        if source is not None:
            self._config_file = str(source)
        return self

    @property
    def kind(self) -> Literal["service_account", "installed_app"]:
        return "service_account" if self.service_account_key is not None else "installed_app"

    @property
    def config_file(self) -> str | None:
        return self._config_file

    def acting_for(self, organizer_email: str | None) -> str | None:
        """The user coachd acts as: `subject`, else the organizer."""
        return self.subject or organizer_email


class GoogleSection(ProviderSection):
    """What every Google provider takes: where the APIs are and how to authorise."""

    api_root: str = Field(default=DEFAULT_API_ROOT,
                          description="Root URL of Google's APIs (a proxy or private endpoint may stand in).")
    auth: GoogleAuth = Field(description="How coachd is authorised: a service account key or an OAuth client.")

    @field_validator("api_root")
    @classmethod
    def _api_root_is_a_url(cls, value: str) -> str:
        return _http_url(value, "the API root")


class GoogleCalendarSection(GoogleSection):
    """A Google Calendar: sessions are booked there, and Google invites the attendees listed on its events."""

    provider: Literal["google"] = Field(description="google: a Google Workspace calendar.")
    calendar_id: str | None = Field(default=None,
                                    description="The calendar to book in. Default: the account's primary calendar.")
    outside_guests: Literal["google", "coachd"] = Field(
        default="google", description="Who invites guests outside the Workspace: google (listed on Google's "
        "event, mailed by Google) or coachd (left off Google's event, sent coachd's own invitations). "
        "Colleagues in the Workspace are always Google's: one invitation path per attendee, never two.")
    workspace_domains: list[str] = Field(
        default_factory=list, description="Mail domains inside the Workspace besides the organizer's own.")


class GmailSenderSection(GoogleSection):
    """Mail sent through the organizer's Gmail account."""

    provider: Literal["gmail"] = Field(description="gmail: the organizer's Gmail account.")
    read_sent: bool = Field(
        default=False, description="Also ask for gmail.readonly, to look in Sent (by Message-ID) whether a send "
        "whose answer was lost went out; without it such an email is sent again and may arrive twice.")


class GmailInboxSection(GoogleSection):
    """Replies read from the organizer's Gmail account."""

    provider: Literal["gmail"] = Field(description="gmail: the organizer's Gmail account.")
    folder: str = Field(default="INBOX", description="The label to read replies from.")
    processed_label: str = Field(default="coachd/processed",
                                 description="The label that marks a reply handled (created when missing).")


class GoogleBusySection(GoogleSection):
    """Free/busy of people in the organizer's Workspace (freebusy.query)."""

    provider: Literal["google"] = Field(description="google: free/busy in the organizer's Workspace.")


def section_scopes(role: str, section: GoogleSection) -> tuple[str, ...]:
    """The scopes the provider of `section` asks for: its role's, and gmail.readonly for a Gmail sender
    that reads Sent (`read_sent`)."""
    if isinstance(section, GmailSenderSection) and section.read_sent:
        return ROLE_SCOPES[role] + (_SCOPE + "gmail.readonly",)
    return ROLE_SCOPES[role]


def google_sections(organizer: Any) -> list[tuple[str, GoogleSection]]:
    """(role, section) for each of the organizer's providers that is Google's."""
    found = []
    for role in ROLE_SCOPES:
        section = getattr(organizer, role, None)
        if isinstance(section, GoogleSection):
            found.append((role, section))
    return found


FAMILY = Family("google", (
    Offer("calendar", "google", GoogleCalendarSection, "coachd.providers.google.calendar:google_calendar"),
    Offer("busy", "google", GoogleBusySection, "coachd.providers.google.busy:google_busy"),
    Offer("send", "gmail", GmailSenderSection, "coachd.providers.google.gmail_send:gmail_sender"),
    Offer("receive", "gmail", GmailInboxSection, "coachd.providers.google.gmail_inbox:gmail_inbox"),
))
