"""The Microsoft sections of the config: defaults, the two ways to authorise, URLs that msal and Graph take,
and the options handed to a factory."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from coachd.providers.microsoft.auth import app_scope, credential_name, delegated_scopes, login_command
from coachd.providers.microsoft.family import (
    DEFAULT_AUTHORITY,
    DEFAULT_GRAPH_URL,
    OutlookBusySection,
    OutlookCalendarSection,
    OutlookInboxSection,
)

BASE = {"provider": "outlook", "tenant": "northwind.example", "client_id": "11111111-2222-3333-4444-555555555555"}


def test_defaults_are_the_public_cloud_and_a_delegated_login() -> None:
    section = OutlookCalendarSection(**BASE)
    assert (section.authority, section.graph_url) == (DEFAULT_AUTHORITY, DEFAULT_GRAPH_URL)
    assert not section.app_only
    assert section.mailbox_of("coaching@northwind.example") == "coaching@northwind.example"
    assert OutlookCalendarSection(**BASE, mailbox="office@northwind.example").mailbox_of("x@y") == \
        "office@northwind.example"
    assert OutlookInboxSection(**BASE).folder == "inbox"


def test_a_secret_or_a_certificate_means_app_only_and_never_both() -> None:
    assert OutlookBusySection(**BASE, secret_env="GRAPH_SECRET").app_only
    assert OutlookBusySection(**BASE, certificate="graph.pem").app_only
    with pytest.raises(ValidationError, match="at most one of secret_env or certificate"):
        OutlookBusySection(**BASE, secret_env="GRAPH_SECRET", certificate="graph.pem")
    with pytest.raises(ValidationError, match="name of an environment variable"):
        OutlookBusySection(**BASE, secret_env="GRAPH_SECRET=abc")


def test_a_certificate_is_found_beside_the_config(tmp_path: Path) -> None:
    source = tmp_path / "programs" / "northwind.yaml"
    section = OutlookCalendarSection.model_validate({**BASE, "certificate": "keys/graph.pem"},
                                                    context={"source": source})
    assert section.certificate == str(tmp_path / "programs" / "keys" / "graph.pem")
    assert login_command(section) == f"coachd auth microsoft {source}"


@pytest.mark.parametrize(("options", "message"), [
    ({"authority": "http://login.microsoftonline.com"}, "expected an https URL for the authority"),
    ({"authority": "https://login.microsoftonline.com/northwind"}, "host only"),
    ({"graph_url": "graph.microsoft.com"}, "expected an http(s) URL for graph_url"),
    ({"graph_url": "https://graph.microsoft.com/?x=1"}, "no query"),
    ({"tenant": ""}, "at least 1 character"),
    ({"client_id": ""}, "at least 1 character"),
    ({"user": "old-name"}, "Extra inputs are not permitted"),
])
def test_bad_options_are_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OutlookCalendarSection(**{**BASE, **options})


def test_a_national_cloud_names_its_own_permissions() -> None:
    us = OutlookCalendarSection(**BASE, authority="https://login.microsoftonline.us/",
                                graph_url="https://graph.microsoft.us/")
    assert (us.authority, us.graph_url) == ("https://login.microsoftonline.us", "https://graph.microsoft.us")
    assert app_scope(us) == "https://graph.microsoft.us/.default"
    assert delegated_scopes(us, ["calendar", "send", "receive", "busy"]) == [
        "https://graph.microsoft.us/Calendars.Read", "https://graph.microsoft.us/Calendars.ReadWrite",
        "https://graph.microsoft.us/Mail.ReadWrite", "https://graph.microsoft.us/Mail.Send"]


def test_the_factory_gets_the_section_whole_and_logins_are_kept_per_app_and_account() -> None:
    section = OutlookCalendarSection(**BASE, calendar_id="AAMk")
    assert section.options() == {"section": section}
    assert credential_name(section, "Coaching@Northwind.example") == \
        "microsoft:11111111-2222-3333-4444-555555555555:coaching@northwind.example"


def test_the_microsoft_example_config_shares_one_block_between_the_roles() -> None:
    from coachd.config import load_config
    from coachd.providers.microsoft.family import microsoft_sections

    cfg = load_config(Path(__file__).resolve().parents[2] / "config" / "example-microsoft.yaml")
    sections = microsoft_sections(cfg.organizer)
    assert [role for role, _section in sections] == ["calendar", "busy", "send", "receive"]
    assert {(s.tenant, s.client_id, s.secret_env, s.authority, s.graph_url) for _role, s in sections} == {
        ("fabrikam.example", "00000000-0000-0000-0000-000000000000", "COACHD_GRAPH_SECRET", DEFAULT_AUTHORITY,
         DEFAULT_GRAPH_URL)}
