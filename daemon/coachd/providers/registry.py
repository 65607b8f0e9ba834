"""Builds providers from the config's `provider:` names, importing a family's code only when it is used.

Each family (a subpackage of coachd.providers) declares its names, factories and config sections in
its `family` module; this is the only list of families, and nothing lists provider names but them.
As in Radicale's load_plugin and vdirsyncer's storage index, a factory is an import path resolved
on first use, so importing the registry (or validating a config) imports no provider's libraries.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from coachd.providers.base import CalendarProvider, Inbox, MailSender, UnknownProvider
from coachd.providers.family import ROLES, Family, Offer, ProviderRefused

__all__ = ["FAMILIES", "ROLES", "ProviderRefused", "accepted_options", "embedded", "families", "names", "offer", "offers", "provider"]

# In the order their names are offered: the embedded defaults first.
FAMILIES = ("local", "mailserver", "google", "microsoft")


@cache
def families() -> tuple[Family, ...]:
    """Every family's declaration (light modules: names, sections and factory paths only)."""
    return tuple(importlib.import_module(f"coachd.providers.{name}.family").FAMILY for name in FAMILIES)


def offers(role: str) -> tuple[Offer, ...]:
    """Every provider the config may name for `role`, implemented in this version or not."""
    if role not in ROLES:
        raise ValueError(f"unknown provider role {role!r}; roles: {', '.join(ROLES)}")
    return tuple(o for family in families() for o in family.offers if o.role == role)


def names(role: str) -> tuple[str, ...]:
    return tuple(o.name for o in offers(role))


def offer(role: str, name: str) -> Offer | None:
    return next((o for o in offers(role) if o.name == name), None)


def embedded(role: str) -> str | None:
    """The provider `role` falls back to when the config names none (None: the role is optional)."""
    return next((o.name for o in offers(role) if o.embedded), None)


def provider(role: str, name: str, state_dir: Path, **options: Any) -> Any:
    """The provider `organizer.<role>.provider` names, built with `options`.

    Factories only check and keep their settings: they open no connection (a provider connects
    when first used), which is what lets `coachd check` build them to see what `run` would refuse.
    """
    found = offer(role, name)
    if found is None:
        raise UnknownProvider(f"unknown {role} provider {name!r}; known: {', '.join(names(role))}")
    if found.factory is None:
        available = sorted(o.name for o in offers(role) if o.factory is not None)
        raise ProviderRefused(role, "provider", f"{name!r} is not available in this version of coachd; "
                                                f"available: {', '.join(available) or 'none'}")
    factory = _resolve(found.factory)
    # Check options against the factory's signature, so a typo is reported as such and a
    # TypeError from inside a constructor is never mistaken for one.
    try:
        inspect.signature(factory).bind(state_dir, **options)
    except TypeError as exc:
        raise UnknownProvider(f"{role} provider {name!r}: {exc}") from exc
    return factory(state_dir, **options)


def accepted_options(role: str, name: str) -> frozenset[str] | None:
    """The parameters the `name` provider's factory takes beyond the state directory (its section's
    options, and a credential store for one that logs in); None when this version cannot build it.
    Imports the factory's module, so ask only about a provider that is about to be built."""
    found = offer(role, name)
    if found is None or found.factory is None:
        return None
    return frozenset(list(inspect.signature(_resolve(found.factory)).parameters)[1:])


def calendar_provider(name: str, state_dir: Path, **options: Any) -> CalendarProvider:
    """The calendar named by `organizer.calendar.provider`; `local` keeps files in <state_dir>/calendar."""
    return provider("calendar", name, state_dir, **options)  # type: ignore[no-any-return]


def mail_sender(name: str, state_dir: Path, **options: Any) -> MailSender:
    """The sender named by `organizer.send.provider`; `file` writes .eml files to <state_dir>/mail."""
    return provider("send", name, state_dir, **options)  # type: ignore[no-any-return]


def inbox(name: str, state_dir: Path, **options: Any) -> Inbox:
    """The inbox named by `organizer.receive.provider`; `maildir` reads <state_dir>/inbox, `imap` keeps
    the folder's last UIDVALIDITY in <state_dir>/imap-<hash>.json."""
    return provider("receive", name, state_dir, **options)  # type: ignore[no-any-return]


def _resolve(path: str) -> Callable[..., Any]:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]
