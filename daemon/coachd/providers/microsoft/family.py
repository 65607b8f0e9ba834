"""The microsoft family: the Outlook calendar, mail and free/busy of Microsoft 365, through Graph.

Every Microsoft section names the Entra app (tenant, client id) and one of the two ways an admin
authorises it: app-only client credentials (a client secret read from an environment variable, or a
certificate file) or, with neither, a delegated login of one account kept in the state's credential
store (`coachd auth microsoft CONFIG`, device code). `authority` and `graph_url` move coachd to a
national cloud (US Government, China) or a proxy; the tests use them to reach the fake. Light on
purpose: the registry imports this module to validate any config, so nothing here imports msal.
"""

from __future__ import annotations

from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from coachd.providers.family import Family, Offer, ProviderSection, beside_the_config

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
# Least privilege per role, as Graph names them: the application permissions an admin consents to
# for app-only access, and the delegated scopes of a login (the same names; Graph adds ".All"
# nowhere here, since these four exist in both kinds).
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "calendar": ("Calendars.ReadWrite",),
    "busy": ("Calendars.Read",),  # getSchedule: Calendars.ReadBasic would do for app-only, Read is listed
    "send": ("Mail.Send",),
    "receive": ("Mail.ReadWrite",),  # read replies and move or categorise them; never delete
}


def _refused(kind: str, message: str) -> PydanticCustomError:
    # A PydanticCustomError, so the loader shows the message alone (no "value error, " before it).
    return PydanticCustomError(kind, message.replace("{", "{{").replace("}", "}}"))


def _url(value: str, what: str, *, https_only: bool) -> str:
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        expected = "an https URL" if https_only else "an http(s) URL"
        raise _refused("url", f"expected {expected} for {what}, got {value!r}")
    if parts.query or parts.fragment:
        raise _refused("url", f"{what} takes no query or fragment, got {value!r}")
    return value.rstrip("/")


class MicrosoftSection(ProviderSection):
    """What every Microsoft provider takes: the Entra app, how it is authorised, and where Graph is."""

    # Optional in the schema, so that a block naming only its provider still loads (and `check` says
    # what is missing with everything else): credentials are refused without them (auth.py).
    tenant: str | None = Field(default=None, min_length=1,
                               description="The Microsoft Entra tenant: its id (a GUID) or a domain of it.")
    client_id: str | None = Field(default=None, min_length=1,
                                  description="The app registration's Application (client) ID.")
    secret_env: str | None = Field(
        default=None, description="App-only access: the environment variable holding the app's client secret.")
    certificate: str | None = Field(
        default=None, description="App-only access: a PEM file (mode 0600) holding the app's certificate and its "
        "private key, relative to this file. Without it or secret_env, `coachd auth microsoft CONFIG` logs "
        "`mailbox` in once (delegated access).")
    mailbox: str | None = Field(
        default=None, description="The mailbox coachd works in (books, sends, reads). Default: the organizer's email.")
    authority: str = Field(default=DEFAULT_AUTHORITY,
                           description="Microsoft Entra's login host, https (national clouds: "
                           "https://login.microsoftonline.us, https://login.chinacloudapi.cn).")
    graph_url: str = Field(default=DEFAULT_GRAPH_URL,
                           description="Microsoft Graph's root (national clouds: https://graph.microsoft.us, "
                           "https://microsoftgraph.chinacloudapi.cn).")
    # The config file this block came from, for messages telling the admin which command to run.
    _config_file: str | None = PrivateAttr(default=None)

    @field_validator("certificate")
    @classmethod
    def _beside_the_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        return beside_the_config(value, info)

    @field_validator("authority")
    @classmethod
    def _authority_is_https(cls, value: str) -> str:
        # msal refuses anything else; said here, at check, rather than at the first token.
        url = _url(value, "the authority", https_only=True)
        if urlsplit(url).path not in ("", "/"):
            raise _refused("url", f"give the authority's host only (the tenant is `tenant`), got {value!r}")
        return url

    @field_validator("graph_url")
    @classmethod
    def _graph_url_is_a_url(cls, value: str) -> str:
        return _url(value, "graph_url", https_only=False)

    @field_validator("secret_env")
    @classmethod
    def _an_environment_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or "=" in value or value.strip() != value):
            raise _refused("secret_env", f"expected the name of an environment variable, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_credential(self, info: ValidationInfo) -> Self:
        if self.secret_env is not None and self.certificate is not None:
            raise _refused("credentials", "give at most one of secret_env or certificate (app-only access), or "
                           "neither for a delegated login with `coachd auth microsoft`")
        source = (info.context or {}).get("source")
        if source is not None:
            self._config_file = str(source)
        return self

    @property
    def app_only(self) -> bool:
        """Client credentials (a secret or a certificate) rather than a person's login."""
        return self.secret_env is not None or self.certificate is not None

    @property
    def config_file(self) -> str | None:
        return self._config_file

    def mailbox_of(self, organizer_email: str | None) -> str | None:
        """The mailbox coachd works in: `mailbox`, else the organizer's."""
        return self.mailbox or organizer_email

    def delegated_login(self, organizer_email: str | None) -> tuple[str, ...] | None:
        """Whose login a delegated section uses (None for app-only): two sections with the same one hold one
        refresh token, which dies for both at once (execute/credential_alerts.py asks)."""
        if self.app_only:
            return None
        return (self.authority, (self.tenant or "").lower(), (self.client_id or "").lower(),
                (self.mailbox_of(organizer_email) or "").lower())

    def options(self) -> dict[str, object]:
        # Handed whole to the factory: auth.py reads the credential settings from the section itself.
        return {"section": self}


class OutlookCalendarSection(MicrosoftSection):
    """An Exchange Online calendar: sessions are booked there and Exchange invites the attendees."""

    provider: Literal["outlook"] = Field(description="outlook: a Microsoft 365 calendar.")
    calendar_id: str | None = Field(default=None,
                                    description="The calendar to book in. Default: the mailbox's primary calendar.")


class OutlookSenderSection(MicrosoftSection):
    """Mail sent from the organizer's Microsoft 365 mailbox (Graph sendMail)."""

    provider: Literal["outlook"] = Field(description="outlook: the organizer's Microsoft 365 mailbox.")


class OutlookInboxSection(MicrosoftSection):
    """Replies read from the organizer's Microsoft 365 mailbox."""

    provider: Literal["outlook"] = Field(description="outlook: the organizer's Microsoft 365 mailbox.")
    folder: str = Field(default="inbox", description="The mail folder to read replies from (a well-known name "
                        "such as inbox, or a folder id).")
    processed_category: str = Field(default="coachd processed", min_length=1,
                                    description="The category a processed reply is given (beside its own ones).")
    processed_folder: str | None = Field(default=None, min_length=1,
                                         description="Move processed replies to this folder instead (a well-known "
                                         "name, a folder id, or the name of a top-level folder, made when missing). "
                                         "Nothing is ever deleted.")


class OutlookBusySection(MicrosoftSection):
    """Free/busy of people in the organizer's tenant (Graph getSchedule)."""

    provider: Literal["outlook"] = Field(description="outlook: free/busy in the organizer's tenant.")


def microsoft_sections(organizer: Any) -> list[tuple[str, MicrosoftSection]]:
    """(role, section) for each of the organizer's providers that is Microsoft's."""
    found = []
    for role in ROLE_PERMISSIONS:
        section = getattr(organizer, role, None)
        if isinstance(section, MicrosoftSection):
            found.append((role, section))
    return found


FAMILY = Family("microsoft", (
    Offer("calendar", "outlook", OutlookCalendarSection, None),
    Offer("busy", "outlook", OutlookBusySection, "coachd.providers.microsoft.busy:outlook_busy"),
    Offer("send", "outlook", OutlookSenderSection, "coachd.providers.microsoft.mail_send:outlook_sender"),
    Offer("receive", "outlook", OutlookInboxSection, "coachd.providers.microsoft.mail_inbox:outlook_inbox"),
))
