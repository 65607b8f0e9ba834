"""The microsoft family: the Outlook calendar, mail and free/busy of Microsoft 365, through Graph.

The config accepts these names and their options today; their factories come with the Microsoft
issue, and until then naming one is refused as "not available in this version of coachd".
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from coachd.providers.family import Family, Offer, ProviderSection


class OutlookCalendarSection(ProviderSection):
    """An Exchange Online calendar: sessions are booked there and Exchange invites the attendees."""

    provider: Literal["outlook"] = Field(description="outlook: a Microsoft 365 calendar.")
    calendar_id: str | None = Field(default=None,
                                    description="The calendar to book in. Default: the account's primary calendar.")
    tenant: str | None = Field(default=None, description="The Microsoft Entra tenant id or domain.")
    client_id: str | None = Field(default=None, description="The application (client) id.")
    secret_env: str | None = Field(default=None, description="Environment variable holding the client secret.")
    user: str | None = Field(default=None,
                             description="The mailbox whose calendar is used. Default: the organizer's email.")


class OutlookSenderSection(ProviderSection):
    """Mail sent from the organizer's Microsoft 365 mailbox (Graph sendMail)."""

    provider: Literal["outlook"] = Field(description="outlook: the organizer's Microsoft 365 mailbox.")


class OutlookInboxSection(ProviderSection):
    """Replies read from the organizer's Microsoft 365 mailbox."""

    provider: Literal["outlook"] = Field(description="outlook: the organizer's Microsoft 365 mailbox.")
    folder: str = Field(default="INBOX", description="The folder to read replies from.")


class OutlookBusySection(ProviderSection):
    """Free/busy of people in the organizer's tenant (Graph getSchedule)."""

    provider: Literal["outlook"] = Field(description="outlook: free/busy in the organizer's tenant.")


FAMILY = Family("microsoft", (
    Offer("calendar", "outlook", OutlookCalendarSection, None),
    Offer("busy", "outlook", OutlookBusySection, None),
    Offer("send", "outlook", OutlookSenderSection, None),
    Offer("receive", "outlook", OutlookInboxSection, None),
))
