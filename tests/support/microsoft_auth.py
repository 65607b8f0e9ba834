"""A Microsoft 365 set-up for auth tests: the fake Graph with its identity platform, a tenant with the
example program's people, a probe route that says who called with which permissions, and the example
program's config with Microsoft sections pointed at the fake."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coachd.config import load_config
from coachd.providers.microsoft.auth import GraphCredentials
from coachd.providers.microsoft.client import GraphClient
from coachd.providers.retry import RetryPolicy
from tests.support.cli import ROOT
from tests.support.fake_graph import FakeGraph, Request, Response
from tests.support.fake_graph.identity import PUBLIC_HOST, App, FakeIdentity, Tenant
from tests.support.fake_graph.redirect import HOSTS, redirected, redirecting_session

ORGANIZER = "coaching@northwind.example"
DOMAIN = "northwind.example"
ALL_ROLES = ("calendar", "busy", "send", "receive")
APP_PERMISSIONS = ("Calendars.ReadWrite", "Mail.Send", "Mail.ReadWrite")
NO_SLEEP = RetryPolicy(attempts=2, sleep=lambda _seconds: None, jitter=0)


def _who(request: Request) -> Response:
    assert request.principal is not None
    # A calendar's own fields too (Graph's canEdit: the organizer's own calendar is editable).
    return Response(body={"id": "AAMkAGI2", "name": "Calendar", "canEdit": True,
                          "mailbox": request.mailbox, "kind": request.principal.kind,
                          "app": request.principal.app_id, "user": request.principal.user,
                          "permissions": sorted(request.principal.permissions)})


def add_probes(fake: FakeGraph) -> None:
    """GET /users/{mailbox}/calendar (a calendar permission): answers who called, with what."""
    fake.route("GET", r"/v1\.0/users/(?P<mailbox>[^/]+)/calendar", _who,
               permissions=["Calendars.Read", "Calendars.ReadWrite"])


def probe_calendar(fake: FakeGraph, credentials: GraphCredentials, mailbox: str = ORGANIZER,
                   policy: RetryPolicy = NO_SLEEP) -> dict[str, Any]:
    client = GraphClient(credentials, fake.base_url, mailbox, timeout=5, policy=policy)
    try:
        return client.json("GET", f"{client.users_path}/calendar")  # type: ignore[no-any-return]
    finally:
        client.close()


@dataclass
class MicrosoftSetup:
    fake: FakeGraph
    identity: FakeIdentity
    tenant: Tenant
    folder: Path

    def app(self, *, public_client: bool = False, permissions: tuple[str, ...] = APP_PERMISSIONS) -> App:
        return self.identity.register_app(self.tenant, public_client=public_client,
                                          application_permissions=permissions)

    def section(self, app: App, extra: str = "") -> str:
        """A Microsoft section's options (YAML flow, without the braces) for `app` on the fake."""
        return (f"tenant: {DOMAIN}, client_id: {app.client_id}, graph_url: '{self.fake.base_url}'"
                + (f", {extra}" if extra else ""))

    def config(self, options: str, *, roles: tuple[str, ...] = ("calendar",), name: str = "program.yaml") -> Path:
        """The example program with `roles` on Microsoft, each with the section options `options`."""
        text = (ROOT / "config" / "example.yaml").read_text()
        blocks = {"calendar": "calendar: {provider: local}", "send": "send: {provider: file}",
                  "receive": "receive: {provider: maildir}"}
        for role in roles:
            if role == "busy":
                text = text.replace("  receive: ", f"  busy: {{provider: outlook, {options}}}\n  receive: ", 1)
                continue
            assert blocks[role] in text
            text = text.replace(blocks[role], f"{role}: {{provider: outlook, {options}}}", 1)
        text = text.replace("busy: calendars/", f"busy: {ROOT / 'config' / 'calendars'}/")
        path = self.folder / name
        path.write_text(text)
        return path


class PersonAtTheBrowser:
    """The person who runs `coachd auth microsoft`: reads the code it shows and enters it at Microsoft's
    page (the fake's, through the tests' session), signing in as `login`. Handed to the login as its
    `say` and `sleep`: the first wait between polls is when they do it."""

    def __init__(self, fake: FakeGraph, login: str = ORGANIZER, *, consent: bool = True,
                 before: Callable[[], None] | None = None) -> None:
        self.fake = fake
        self.login = login
        self.consent = consent
        self.before = before
        self.lines: list[str] = []
        self.waits = 0
        self.page: str | None = None

    def say(self, line: str) -> None:
        self.lines.append(line)

    def sleep(self, _seconds: float) -> None:
        self.waits += 1
        if self.waits == 1:
            if self.before is not None:
                self.before()
            self.enter_code()

    def enter_code(self) -> None:
        self.page = enter_code(self.fake.base_url, "\n".join(self.lines), self.login, consent=self.consent)


def enter_code(base_url: str, said: str, login: str, *, consent: bool = True) -> str:
    """What a person does with what `coachd auth microsoft` said: open the page, enter the code, sign in
    as `login` and accept (or not). Returns the page Microsoft shows then."""
    code = re.search(r"enter the code (\w+)", said)
    url = re.search(r"(https://\S+devicelogin)", said)
    assert code and url, f"no code and page in what the command said: {said}"
    session = redirecting_session(base_url)
    answer = session.post(url.group(1), data={"otc": code.group(1), "login": login,
                                              "consent": "yes" if consent else "no"})
    return answer.text


@contextmanager
def microsoft(folder: Path, *, host: str = PUBLIC_HOST, **fake_options: Any) -> Iterator[MicrosoftSetup]:
    """The fake Graph and Entra, the example's tenant with everyone in it, sessions redirected to them."""
    with FakeGraph(**fake_options) as fake, redirected(fake, (*HOSTS, host)):
        identity = FakeIdentity(fake, host=host)
        tenant = identity.add_tenant(DOMAIN)
        identity.add_user(tenant, ORGANIZER)
        for person in load_config(ROOT / "config" / "example.yaml").people:
            identity.add_user(tenant, str(person.email))
        add_probes(fake)
        yield MicrosoftSetup(fake, identity, tenant, folder)


def run_login(ms: MicrosoftSetup, config: Path, state: Path, login: str = ORGANIZER) -> tuple[int, str, str]:
    """`coachd auth microsoft` in a process of its own, as an admin runs it on a server; the person acts on
    what it prints (enters the code at Microsoft's page, signing in as `login`). Returns (exit code,
    everything said on stdout, stderr)."""
    env = {**os.environ, "COACHD_TEST_GRAPH": ms.fake.base_url, "PYTHONPATH": f"{ROOT}:{ROOT / 'daemon'}"}
    command = subprocess.Popen([sys.executable, "-m", "tests.support.graph_cli", "auth", "microsoft", str(config),
                                "--state", str(state), "--timeout", "60"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert command.stdout is not None
    said = []
    for line in command.stdout:
        said.append(line)
        if "enter the code" in line:
            enter_code(ms.fake.base_url, line, login)
            break
    out, err = command.communicate(timeout=60)
    return command.returncode, "".join(said) + out, err
