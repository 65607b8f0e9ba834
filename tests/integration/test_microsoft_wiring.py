"""How a Microsoft provider's factory is called by the program's wiring: with its section whole, the
state's credential store and the organizer's email, and nothing that connects; graph_client() then
makes it a Graph client for the organizer's mailbox (the calendar, busy, send and receive providers
built on this are other modules')."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coachd.config import load_config
from coachd.providers import registry
from coachd.providers.credentials import CredentialStore
from coachd.providers.family import Offer
from coachd.providers.microsoft.connect import graph_client
from coachd.providers.microsoft.family import OutlookCalendarSection
from coachd.runtime.wiring import build_provider, provider_problems
from tests.support.microsoft_auth import ORGANIZER, MicrosoftSetup, microsoft

BUILT: list[dict[str, Any]] = []


def stand_in_calendar(state_dir: Path, *, section: OutlookCalendarSection, credential_store: CredentialStore,
                      organizer_email: str) -> object:
    """A factory of the shape every Microsoft one has; its client is all a provider needs."""
    client = graph_client(section, "calendar", credential_store=credential_store, organizer_email=organizer_email)
    BUILT.append({"state_dir": state_dir, "section": section, "store": credential_store,
                  "organizer_email": organizer_email, "client": client})
    return client


@pytest.fixture
def ms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MicrosoftSetup]:
    real = registry.offer
    stand_in = Offer("calendar", "outlook", OutlookCalendarSection, f"{__name__}:stand_in_calendar")
    monkeypatch.setattr(registry, "offer", lambda role, name: stand_in if (role, name) == ("calendar", "outlook")
                        else real(role, name))
    BUILT.clear()
    with microsoft(tmp_path) as setup:
        yield setup


def test_the_factory_gets_its_section_the_store_and_the_organizer(ms: MicrosoftSetup,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app = ms.app()
    monkeypatch.setenv("COACHD_GRAPH_SECRET", ms.identity.add_secret(app))
    cfg = load_config(ms.config(ms.section(app, "secret_env: COACHD_GRAPH_SECRET")))
    client = build_provider(cfg, "calendar", ms.folder / "state")
    [built] = BUILT
    assert built["section"] is cfg.organizer.calendar and built["organizer_email"] == ORGANIZER
    assert built["store"].path == ms.folder / "state" / "credentials.json"
    assert not ms.identity.answers and not ms.fake.requests("/v1.0/")  # built without connecting
    assert client.json("GET", f"{client.users_path}/calendar")["mailbox"] == ORGANIZER


def test_check_reports_what_the_factory_refuses_with_its_field(ms: MicrosoftSetup,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COACHD_UNSET_SECRET", raising=False)
    app = ms.app()
    cfg = load_config(ms.config(ms.section(app, "secret_env: COACHD_UNSET_SECRET")))
    problems = provider_problems(cfg)
    reason = ("the environment variable COACHD_UNSET_SECRET is not set (it holds the app's client secret; under "
              "systemd, set it with EnvironmentFile=)")
    assert ("organizer.calendar.secret_env", reason) in problems
    assert not ms.identity.answers
