"""The local family: the folder calendar, the file sender and the Maildir inbox, coachd's embedded defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from coachd.providers.family import Family, Offer, ProviderSection

_FACTORIES = "coachd.providers.local.factories"


class LocalCalendarSection(ProviderSection):
    """A folder of .ics files in the state directory (calendar/)."""

    provider: Literal["local"] = Field(default="local", description="local: a folder of .ics files.")


class FileSenderSection(ProviderSection):
    """Messages written as .eml files to the state directory (mail/) instead of being sent."""

    provider: Literal["file"] = Field(default="file", description="file: .eml files in the state directory.")


class MaildirInboxSection(ProviderSection):
    """Replies read from a Maildir in the state directory (inbox/)."""

    provider: Literal["maildir"] = Field(default="maildir", description="maildir: inbox/ in the state directory.")


FAMILY = Family("local", (
    Offer("calendar", "local", LocalCalendarSection, f"{_FACTORIES}:local_calendar", embedded=True),
    Offer("send", "file", FileSenderSection, f"{_FACTORIES}:file_sender", embedded=True),
    Offer("receive", "maildir", MaildirInboxSection, f"{_FACTORIES}:maildir_inbox", embedded=True),
))
