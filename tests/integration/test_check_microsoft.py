"""`coachd check` on Microsoft sections: the secret and certificate offline, and with --online one line per
check (credentials, calendar writable, getSchedule readable per person, mail send and read).

The Graph routes here are small stand-ins answering what a check reads, as Graph does; the full fakes
of calendars, getSchedule and mail are other modules'."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.providers.microsoft.online_check import online_checks
from tests.support.cli import invoke
from tests.support.fake_graph import FakeGraph, GraphError, Request, Response
from tests.support.microsoft_auth import ALL_ROLES, ORGANIZER, MicrosoftSetup, PersonAtTheBrowser, microsoft


class Tenant365:
    """What a check reads: a shared calendar coachd may only read, getSchedule, the inbox folder."""

    def __init__(self, fake: FakeGraph, outsiders: set[str]) -> None:
        self.outsiders = outsiders
        self.schedule_calls: list[int] = []
        mailbox = r"/v1\.0/users/(?P<mailbox>[^/]+)"
        fake.route("GET", mailbox + r"/calendars/(?P<id>[^/]+)", self._calendar,
                   permissions=["Calendars.Read", "Calendars.ReadWrite"])
        fake.route("POST", mailbox + r"/calendar/getSchedule", self._schedule,
                   permissions=["Calendars.Read", "Calendars.ReadWrite"])
        fake.route("GET", mailbox + r"/mailFolders/(?P<folder>[^/]+)", self._folder,
                   permissions=["Mail.Read", "Mail.ReadWrite"])

    def _calendar(self, request: Request) -> Response:
        return Response(body={"id": request.group("id"), "name": "Shared", "canEdit": False})

    def _schedule(self, request: Request) -> Response:
        schedules = request.json()["schedules"]
        if len(schedules) > 100:
            raise GraphError(400, "ErrorMailboxDataArrayTooBig", "Too many schedules.")
        self.schedule_calls.append(len(schedules))
        value = [{"scheduleId": email, "availabilityView": "0", "scheduleItems": []} if email not in self.outsiders
                 else {"scheduleId": email, "error": {"message": "The user is outside the organization.",
                                                       "responseCode": "ErrorMailRecipientNotFound"}}
                 for email in schedules]
        return Response(body={"value": value})

    def _folder(self, request: Request) -> Response:
        return Response(body={"id": "AQMk", "displayName": "Inbox", "totalItemCount": 12})


@pytest.fixture
def ms(tmp_path: Path) -> Iterator[MicrosoftSetup]:
    with microsoft(tmp_path) as setup:
        yield setup


def people(config: Path) -> set[str]:
    return {str(person.email) for person in load_config(config).people}


def app_config(ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    app = ms.app(permissions=("Calendars.ReadWrite", "Mail.Send", "Mail.ReadWrite", "Calendars.Read"))
    monkeypatch.setenv("COACHD_GRAPH_SECRET", ms.identity.add_secret(app))
    return ms.config(ms.section(app, "secret_env: COACHD_GRAPH_SECRET" + extra), roles=ALL_ROLES)


def test_every_check_passes_for_an_app_with_consent(ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    config = app_config(ms, monkeypatch)
    tenant = Tenant365(ms.fake, set())
    lines = list(online_checks(load_config(config), ms.folder / "state"))
    said = [str(line) for line in lines]
    assert all(line.ok for line in lines), said
    assert f"ok   organizer.calendar credentials: a token for {ORGANIZER} (app-only, https://login.microsoftonline.com)" \
        in said
    assert f"ok   calendar the primary calendar of {ORGANIZER} writable: canEdit" in said
    assert sum(line.startswith("ok   free/busy of ") for line in said) == len(people(config))
    assert tenant.schedule_calls and max(tenant.schedule_calls) <= 20
    assert any(line.startswith("ok   mail send") for line in said)
    assert f"ok   mail read: the folder Inbox of {ORGANIZER} (12 messages)" in said
    assert not ms.fake.requests("sendMail")  # nothing sent to find out


def test_each_failure_is_its_own_line(ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    config = app_config(ms, monkeypatch)
    text = config.read_text().replace("calendar: {provider: outlook,", "calendar: {provider: outlook, "
                                      "calendar_id: shared,", 1)
    config.write_text(text)
    outsider = min(people(config))
    Tenant365(ms.fake, {outsider})
    said = [str(line) for line in online_checks(load_config(config), ms.folder / "state")]
    assert f"FAIL calendar shared of {ORGANIZER} writable: Graph says coachd cannot edit it (canEdit false)" in said
    assert f"FAIL free/busy of {outsider}: not readable (ErrorMailRecipientNotFound)" in said


def test_missing_consent_and_a_missing_login_fail_with_what_to_do(ms: MicrosoftSetup,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    app = ms.app(permissions=())  # no admin consent: the token carries no roles
    monkeypatch.setenv("COACHD_GRAPH_SECRET", ms.identity.add_secret(app))
    config = ms.config(ms.section(app, "secret_env: COACHD_GRAPH_SECRET"), roles=("calendar", "receive"))
    Tenant365(ms.fake, set())
    said = [str(line) for line in online_checks(load_config(config), ms.folder / "state")]
    assert any(line.startswith("FAIL organizer.calendar: GET calendar: Graph answered 403 ErrorAccessDenied")
               for line in said), said
    delegated = ms.app(public_client=True, permissions=())
    config = ms.config(ms.section(delegated), roles=("calendar",), name="delegated.yaml")
    said = [str(line) for line in online_checks(load_config(config), ms.folder / "state")]
    assert said[0].startswith("FAIL organizer.calendar credentials: nobody has logged in to Microsoft 365 as "
                              f"{ORGANIZER}")
    assert f"run `coachd auth microsoft {config}`" in said[0]


def test_a_delegated_login_passes_the_checks_it_covers(ms: MicrosoftSetup) -> None:
    app = ms.app(public_client=True, permissions=())
    config = ms.config(ms.section(app), roles=("calendar", "receive"))
    Tenant365(ms.fake, set())
    from coachd.cli.microsoft_login import microsoft_login

    person = PersonAtTheBrowser(ms.fake)
    microsoft_login(load_config(config), ms.folder / "state", say=person.say, sleep=person.sleep)
    lines = list(online_checks(load_config(config), ms.folder / "state"))
    assert all(line.ok for line in lines), [str(line) for line in lines]


def test_check_reports_an_unusable_secret_or_certificate_offline(ms: MicrosoftSetup,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COACHD_UNSET_SECRET", raising=False)
    app = ms.app()
    ms.identity.certificate_file(ms.folder / "open.pem", app, mode=0o640)
    config = ms.config(ms.section(app, "secret_env: COACHD_UNSET_SECRET"))
    text = config.read_text().replace("send: {provider: file}", "send: {provider: outlook, "
                                      f"{ms.section(app, 'certificate: open.pem')}}}")
    config.write_text(text)
    result = invoke("check", str(config))
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "organizer.calendar.secret_env: the environment variable COACHD_UNSET_SECRET is not set" in output
    assert "organizer.send.certificate: " in output and "chmod 600" in output
    assert "Traceback" not in output


def test_check_refuses_bad_microsoft_options_with_their_paths(ms: MicrosoftSetup) -> None:
    app = ms.app()
    for options, expected in [
        ("authority: 'http://login.microsoftonline.com'",
         "organizer.calendar.authority: expected an https URL for the authority, got 'http://login.microsoftonline.com'"),
        ("authority: 'https://login.microsoftonline.com/contoso'",
         "organizer.calendar.authority: give the authority's host only (the tenant is `tenant`)"),
        ("secret_env: A, certificate: c.pem", "organizer.calendar: give at most one of secret_env or certificate"),
        ("graph_url: 'graph.microsoft.com'", "organizer.calendar.graph_url: expected an http(s) URL for graph_url"),
    ]:
        section = ms.section(app, options)
        if "graph_url" in options:
            section = section.replace(f"graph_url: '{ms.fake.base_url}', ", "")
        result = invoke("check", str(ms.config(section)))
        output = " ".join(result.output.split())
        assert result.exit_code == 2
        assert expected in output, output


def test_check_online_prints_the_microsoft_lines(ms: MicrosoftSetup, monkeypatch: pytest.MonkeyPatch) -> None:
    config = app_config(ms, monkeypatch)
    Tenant365(ms.fake, set())
    result = invoke("check", str(config), "--online", "--state", str(ms.folder / "state"))
    output = result.output
    assert f"online: ok   organizer.calendar credentials: a token for {ORGANIZER}" in output
    assert "online: ok   mail read: the folder Inbox" in output
    assert "Traceback" not in output


def test_a_block_without_its_app_is_told_what_is_missing(ms: MicrosoftSetup) -> None:
    config = ms.config("mailbox: coaching@northwind.example")
    output = " ".join(invoke("check", str(config)).output.split())
    assert "organizer.calendar.tenant: name the Microsoft Entra tenant (its id, or a domain of it)" in output
    result = invoke("auth", "microsoft", str(config), "--state", str(ms.folder / "state"))
    assert result.exit_code == 2 and "organizer.calendar.tenant: name the Microsoft Entra tenant" in result.output
    config = ms.config(f"tenant: {ms.tenant.domain}")
    assert "organizer.calendar.client_id: name the app registration's Application (client) ID" in \
        " ".join(invoke("check", str(config)).output.split())
