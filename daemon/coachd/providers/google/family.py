"""The google family: Google Calendar, Gmail and Workspace free/busy.

The config accepts these names and their options today; their factories come with the Google
issue, and until then naming one is refused as "not available in this version of coachd".
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from coachd.providers.family import Family, Offer, ProviderSection, beside_the_config


class GoogleCalendarSection(ProviderSection):
    """A Google Calendar: sessions are booked there and Google invites the attendees."""

    provider: Literal["google"] = Field(description="google: a Google Workspace calendar.")
    calendar_id: str | None = Field(default=None,
                                    description="The calendar to book in. Default: the account's primary calendar.")
    credentials: str | None = Field(default=None,
                                    description="OAuth client or service-account JSON file, relative to this file.")
    secret_env: str | None = Field(default=None, description="Environment variable holding the client secret.")

    @field_validator("credentials")
    @classmethod
    def _beside_the_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return beside_the_config(value, info)


class GmailSenderSection(ProviderSection):
    """Mail sent through the organizer's Gmail account."""

    provider: Literal["gmail"] = Field(description="gmail: the organizer's Gmail account.")


class GmailInboxSection(ProviderSection):
    """Replies read from the organizer's Gmail account."""

    provider: Literal["gmail"] = Field(description="gmail: the organizer's Gmail account.")
    folder: str = Field(default="INBOX", description="The label to read replies from.")


class GoogleBusySection(ProviderSection):
    """Free/busy of people in the organizer's Workspace (freebusy.query)."""

    provider: Literal["google"] = Field(description="google: free/busy in the organizer's Workspace.")


FAMILY = Family("google", (
    Offer("calendar", "google", GoogleCalendarSection, None),
    Offer("busy", "google", GoogleBusySection, None),
    Offer("send", "gmail", GmailSenderSection, None),
    Offer("receive", "gmail", GmailInboxSection, None),
))
