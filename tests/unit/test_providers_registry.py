"""The provider registry: config names -> providers under the state directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from coachd.providers.base import CalendarProvider, Inbox, MailSender, ProviderUnavailable, UnknownProvider
from coachd.providers.local.file_sender import FileSender
from coachd.providers.local.calendar import LocalCalendar
from coachd.providers.local.maildir import MaildirInbox
from coachd.providers.registry import (
    CALENDAR_PROVIDERS,
    RECEIVE_PROVIDERS,
    SEND_PROVIDERS,
    calendar_provider,
    inbox,
    mail_sender,
)


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
    [(calendar_provider, "google"), (calendar_provider, "outlook"), (mail_sender, "gmail"),
     (mail_sender, "outlook"), (inbox, "gmail"), (inbox, "outlook")],
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
    assert CALENDAR_PROVIDERS == ("local", "google", "outlook")
    assert SEND_PROVIDERS == ("file", "smtp", "gmail", "outlook")
    assert RECEIVE_PROVIDERS == ("maildir", "imap", "gmail", "outlook")


def test_unavailable_providers_name_the_config_field(tmp_path: Path) -> None:
    from coachd.providers.registry import ProviderRefused, provider

    with pytest.raises(ProviderRefused) as refused:
        provider("receive", "gmail", tmp_path)
    assert refused.value.field == "organizer.receive.provider"
    assert str(refused.value) == ("organizer.receive.provider: 'gmail' is not available in this version of "
                                  "coachd; available: imap, maildir")


def test_accepted_options_are_what_each_factory_takes() -> None:
    from coachd.providers.registry import accepted_options

    assert accepted_options("calendar", "local") == {"folder"}
    assert accepted_options("send", "smtp") == {"host", "port", "tls", "username", "password_env"}
    assert accepted_options("receive", "maildir") == {"path"}
    assert accepted_options("receive", "imap") == {"host", "port", "tls", "username", "password_env", "folder",
                                                   "processed_folder", "ca_file"}
    assert accepted_options("receive", "gmail") is None
