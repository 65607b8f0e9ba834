"""The organizer and its provider blocks (calendar, busy times, mail out, mail in), one section per provider.

Each block is a union of the sections the provider families declare, told apart by `provider`, so
that the schema documents every provider's own options and an option of another provider is an error.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Discriminator, EmailStr, Field, Tag

from coachd.config.settings import Section
from coachd.providers import registry


def provider_tag(role: str, name: str) -> str:
    """The union branch of provider `name` in organizer.<role>, as pydantic puts it in error locations."""
    return f"{role}:{name}"


def quoted_names(role: str) -> str:
    """The names `organizer.<role>.provider` accepts, as messages list them: 'a', 'b' or 'c'."""
    quoted = [f"'{name}'" for name in registry.names(role)]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _union(role: str) -> Any:
    offers = registry.offers(role)
    fallback = registry.embedded(role) or offers[0].name

    def branch(value: Any) -> str | None:
        if isinstance(value, dict):
            name = value.get("provider", registry.embedded(role))
        elif hasattr(value, "provider"):
            name = value.provider
        else:  # not a mapping: let the fallback's section say so ("expected a mapping ...")
            name = fallback
        return provider_tag(role, name) if isinstance(name, str) else None

    members = tuple(Annotated[o.section, Tag(provider_tag(role, o.name))] for o in offers)
    # Tags that match no member (an unknown name, or none where the role has no default) are reported
    # by the loader as a problem of `provider`, with the names this role accepts.
    return Annotated[Union[members], Discriminator(  # type: ignore[valid-type]
        branch, custom_error_type="provider_name", custom_error_message=f"expected {quoted_names(role)}")]


CalendarSection = _union("calendar")
BusySection = _union("busy")
SendSection = _union("send")
ReceiveSection = _union("receive")
PROVIDER_TAGS = frozenset(provider_tag(o.role, o.name) for f in registry.families() for o in f.offers)


def _default(role: str) -> Any:
    return registry.offer(role, registry.embedded(role) or "").section()  # type: ignore[union-attr]


class Organizer(Section):
    """Who sends the invitations and the mail: usually a coaching office mailbox."""

    name: str = Field(min_length=1, description="Display name on invitations and mail.")
    email: EmailStr = Field(description="The organizer's address; replies come back to it.")
    calendar: CalendarSection = Field(  # type: ignore[valid-type]
        default=_default("calendar"),
        description="The organizer's calendar: local (a folder of .ics files in the state directory), google or "
        "outlook.")
    busy: BusySection | None = Field(  # type: ignore[valid-type]
        default=None,
        description="Free/busy of people in the organizer's Workspace or tenant: google or outlook. Default: "
        "none; a person's own `busy:` ICS file or feed counts either way.")
    send: SendSection = Field(  # type: ignore[valid-type]
        default=_default("send"),
        description="Outgoing mail: file (.eml files in the state directory), smtp, gmail or outlook.")
    receive: ReceiveSection = Field(  # type: ignore[valid-type]
        default=_default("receive"),
        description="Incoming replies: maildir (inbox/ in the state directory), imap, gmail or outlook.")
