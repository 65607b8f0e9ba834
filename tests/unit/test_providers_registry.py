"""The provider registry: config names -> providers under the state directory."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from coachd.providers.base import CalendarProvider, Inbox, MailSender, ProviderUnavailable, UnknownProvider
from coachd.providers.local.file_sender import FileSender
from coachd.providers.local.calendar import LocalCalendar
from coachd.providers.local.maildir import MaildirInbox
from coachd.providers.registry import calendar_provider, inbox, mail_sender, names


def test_embedded_defaults_live_in_the_state_directory(tmp_path: Path) -> None:
    cal = calendar_provider("local", tmp_path)
    sender = mail_sender("file", tmp_path)
    box = inbox("maildir", tmp_path)
    assert isinstance(cal, LocalCalendar) and isinstance(cal, CalendarProvider)
    assert isinstance(sender, FileSender) and isinstance(sender, MailSender)
    assert isinstance(box, MaildirInbox) and isinstance(box, Inbox)
    assert (cal.folder, sender.folder, box.path) == (tmp_path / "calendar", tmp_path / "mail", tmp_path / "inbox")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calendar", "inbox", "mail"]


def test_options_can_move_the_folders(tmp_path: Path) -> None:
    assert calendar_provider("local", tmp_path, folder=tmp_path / "elsewhere").folder == tmp_path / "elsewhere"


@pytest.mark.parametrize(
    ("factory", "name"),
    [(calendar_provider, "outlook")],
)
def test_known_but_unimplemented_providers_say_so_by_name(tmp_path: Path, factory, name: str) -> None:
    with pytest.raises(ProviderUnavailable, match=f"'{name}'"):
        factory(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_names_and_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownProvider, match="'caldav'.*local, google, outlook"):
        calendar_provider("caldav", tmp_path)
    with pytest.raises(UnknownProvider, match="fodler"):
        mail_sender("file", tmp_path, fodler="x")


def test_every_config_name_is_listed() -> None:
    assert names("calendar") == ("local", "google", "outlook")
    assert names("busy") == ("google", "outlook")
    assert names("send") == ("file", "smtp", "gmail", "outlook")
    assert names("receive") == ("maildir", "imap", "gmail", "outlook")


def test_unavailable_providers_name_the_config_field(tmp_path: Path) -> None:
    from coachd.providers.registry import ProviderRefused, provider

    with pytest.raises(ProviderRefused) as refused:
        provider("calendar", "outlook", tmp_path)
    assert refused.value.field == "organizer.calendar.provider"
    assert str(refused.value) == ("organizer.calendar.provider: 'outlook' is not available in this version of "
                                  "coachd; available: google, local")


def test_each_provider_section_holds_the_options_its_factory_takes() -> None:
    from coachd.providers.registry import offer

    def options(role: str, name: str) -> set[str]:
        section = offer(role, name).section  # type: ignore[union-attr]
        return set(section.model_fields) - {"provider"}

    assert options("calendar", "local") == set()
    assert options("send", "smtp") == {"host", "port", "tls", "username", "password_env", "sent_folder"}
    assert options("receive", "maildir") == set()
    assert options("receive", "imap") == {"host", "port", "tls", "username", "password_env", "folder",
                                          "processed_folder", "ca_file"}
    assert options("calendar", "outlook") == {"calendar_id", "tenant", "client_id", "secret_env", "certificate",
                                              "mailbox", "authority", "graph_url"}
    assert offer("receive", "caldav") is None


def test_the_registry_imports_no_provider_it_is_not_asked_for() -> None:
    # A fresh interpreter: what the registry and a validated config pull in, nothing cached by pytest.
    example = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
    script = (
        "import sys, json, pathlib\n"
        "import coachd.providers.registry as registry\n"
        "from coachd.config import load_config\n"
        f"load_config({str(example)!r})\n"
        "validated = sorted(sys.modules)\n"
        "registry.provider('send', 'smtp', pathlib.Path(sys.argv[1]), host='localhost')\n"
        "print(json.dumps([validated, sorted(sys.modules)]))\n"
    )
    with tempfile.TemporaryDirectory() as state:
        done = subprocess.run([sys.executable, "-c", script, state], capture_output=True, text=True, timeout=60,
                              check=True)
    validated, built = (set(names) for names in json.loads(done.stdout))
    assert "coachd.providers.mailserver.family" in validated, "families declare themselves"
    implementations = {"coachd.providers.local.calendar", "coachd.providers.local.file_sender",
                       "coachd.providers.local.maildir", "coachd.providers.local.busy_ics",
                       "coachd.providers.mailserver.smtp", "coachd.providers.mailserver.imap"}
    libraries = {"imapclient", "recurring_ical_events", "googleapiclient", "google.auth", "msal"}
    assert not validated & (implementations | libraries)
    assert "coachd.providers.mailserver.smtp" in built, "the one asked for is imported"
    assert not built & {"coachd.providers.mailserver.imap", "imapclient", "googleapiclient", "msal"}
