"""What the Outlook sender and inbox tests share: the fake Graph with its identity platform and Outlook mail
on a clock the test turns, and Graph clients for the organizer's mailbox with real msal tokens of an app
granted the permissions a test names."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coachd.providers.microsoft.auth import graph_credentials
from coachd.providers.microsoft.client import GraphClient
from coachd.providers.microsoft.family import OutlookInboxSection, OutlookSenderSection
from coachd.providers.retry import RetryPolicy
from tests.support.fake_graph import FakeGraph
from tests.support.fake_graph.mail import FakeOutlookMail
from tests.support.gmail_fixtures import Sleeps, TestClock
from tests.support.microsoft_auth import DOMAIN, ORGANIZER, MicrosoftSetup, microsoft

MAIL_PERMISSIONS = ("Mail.Send", "Mail.ReadWrite")
SECRET_ENV = "COACHD_TEST_OUTLOOK_SECRET"

__all__ = ["ORGANIZER", "Outlook", "Sleeps", "TestClock", "outlook"]


@dataclass
class Outlook:
    ms: MicrosoftSetup
    mail: FakeOutlookMail
    sleeps: Sleeps

    @property
    def fake(self) -> FakeGraph:
        return self.ms.fake

    def section(self, kind: type = OutlookSenderSection, permissions: Sequence[str] = MAIL_PERMISSIONS,
                **options: object) -> OutlookSenderSection | OutlookInboxSection:
        """A section of an app-only app granted `permissions`, its secret in the environment."""
        app = self.ms.app(permissions=tuple(permissions))
        os.environ[SECRET_ENV] = self.ms.identity.add_secret(app)
        return kind(provider="outlook", tenant=DOMAIN, client_id=app.client_id,  # type: ignore[no-any-return]
                    secret_env=SECRET_ENV, graph_url=self.fake.base_url, **options)

    def client(self, permissions: Sequence[str] = MAIL_PERMISSIONS, *, attempts: int = 4,
               timeout: float = 5.0) -> GraphClient:
        section = self.section(permissions=permissions)
        credentials = graph_credentials(section, None, organizer_email=ORGANIZER, role="send")
        policy = RetryPolicy(attempts=attempts, sleep=self.sleeps, jitter=0)
        return GraphClient(credentials, self.fake.base_url, ORGANIZER, timeout=timeout, policy=policy)


@contextmanager
def outlook(folder: Path, clock: TestClock, **fake_options: object) -> Iterator[Outlook]:
    """The fake Graph and Entra on `clock`, the example's tenant, Outlook mail with the organizer's mailbox."""
    previous = os.environ.get(SECRET_ENV)
    try:
        with microsoft(folder, now=clock, **fake_options) as ms:
            mail = FakeOutlookMail(ms.fake)
            mail.mailbox(ORGANIZER)
            yield Outlook(ms, mail, Sleeps())
    finally:
        if previous is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = previous
