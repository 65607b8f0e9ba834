"""How a provider family declares itself: its provider names per role, its factories and its config sections."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo

from coachd.providers.base import ProviderUnavailable

# The organizer's provider blocks: organizer.calendar, .busy, .send and .receive.
ROLES = ("calendar", "busy", "send", "receive")
# How messages name a provider of each role: "the smtp sender", "the maildir inbox".
ROLE_NOUNS = {"calendar": "calendar", "busy": "busy-times provider", "send": "sender", "receive": "inbox"}


class ProviderSection(BaseModel):
    """One provider's block in the config: `provider` names it, every other field is an option of its factory.

    The rules of every config model (coachd.config.settings.Section: unknown keys are errors, values
    never change after loading), without importing the config package, which imports the registry.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def options(self) -> dict[str, object]:
        """The options the factory takes: every field set to something, under its own name."""
        return {name: getattr(self, name) for name in type(self).model_fields
                if name != "provider" and getattr(self, name) is not None}


def beside_the_config(value: str | None, info: ValidationInfo) -> str | None:
    """A file named in a provider block, relative to the config file (as `busy:` files are): resolved
    at validation because the provider is built far from the file it was written in."""
    source = (info.context or {}).get("source")
    if value is None or source is None:
        return value
    return str(Path(source).absolute().parent / Path(value).expanduser())


@dataclass(frozen=True)
class Offer:
    """One provider of a family: the role it plays, the name the config gives it, its config section, and
    its factory as "module:callable", imported only when a program uses it (None: the name is accepted
    by the config but this version of coachd cannot build it yet).

    A factory is called as factory(state_dir, **section.options()) and only checks and keeps its
    settings: it opens no connection, so that `coachd check` can build it to see what `run` would refuse.
    `embedded` marks the provider a role falls back to when the config names none, and what
    `coachd simulate` runs whatever the config names.
    """

    role: str
    name: str
    section: type[ProviderSection]
    factory: str | None
    embedded: bool = False

    @property
    def described(self) -> str:
        return f"the {self.name} {ROLE_NOUNS[self.role]}"


@dataclass(frozen=True)
class Family:
    """A subpackage of coachd.providers and every provider it offers."""

    name: str
    offers: tuple[Offer, ...]


class ProviderRefused(ProviderUnavailable):
    """A provider `coachd run` cannot start, naming the setting of `organizer.<role>` at fault
    (`provider` itself, or an option), so that `coachd check` reports it as `field.path: message`."""

    def __init__(self, role: str, option: str, reason: str) -> None:
        self.field = f"organizer.{role}.{option}"
        self.reason = reason
        super().__init__(f"{self.field}: {reason}")
