"""Credentials that die are mailed to the organizer once, through a sender that still works (issue 17 point 7)."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from coachd.config import load_config_text
from coachd.execute.credential_alerts import ALERT_KIND, _same_login, alert_organizer
from coachd.providers.base import CredentialsExpired
from coachd.store.models import Outbox
from tests.integration.test_provider_failures import FailingSender, cfg, passes  # noqa: F401 - fixtures

EXAMPLES = Path(__file__).resolve().parents[2] / "config"


def alerts(run) -> list[Outbox]:  # type: ignore[no-untyped-def]
    with run.program.store.session() as db:
        return list(db.scalars(select(Outbox).where(Outbox.kind == ALERT_KIND).order_by(Outbox.id)))


def sent_alert_files(state: Path) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted((state / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["X-Coachd-Kind"] == ALERT_KIND:
            found.append(message)
    return found


def test_a_calendar_whose_login_died_is_mailed_to_the_organizer_once_per_episode(passes, tmp_path):  # noqa: F811
    dead = {"yes": True}

    def fail(operation, uid):  # type: ignore[no-untyped-def]
        if dead["yes"]:
            return CredentialsExpired("the login of coach@example.org is no longer valid (invalid_grant): "
                                      "log in again with `coachd auth google CONFIG`", role="calendar")
        return None

    run = passes(fail)
    run.run()
    for _ in range(14):  # over an hour of ticks, a recheck included
        run.run(timedelta(minutes=5))
    [alert] = alerts(run)
    assert alert.to_addr == str(run.program.cfg.organizer.email) and alert.status == "sent"
    [message] = sent_alert_files(tmp_path)
    body = message.get_content()
    assert "calendar provider" in message["Subject"] and "log in again with `coachd auth google CONFIG`" in body
    assert message["Auto-Submitted"] == "auto-generated"

    # Fixed by a new login, then refused again a day later: a new episode, a new email.
    dead["yes"] = False
    run.program.credentials.put("google:coach@example.org", {"refresh_token": "new"})
    run.run(timedelta(minutes=1))
    dead["yes"] = True
    run.run(timedelta(days=1))
    run.run(timedelta(minutes=5))
    assert len(alerts(run)) == 2 and len(sent_alert_files(tmp_path)) == 2


def test_a_sender_whose_login_died_sends_no_email_about_itself(passes):  # noqa: F811
    run = passes(lambda operation, uid: None)
    run.program.sender = FailingSender(run.program.sender, [CredentialsExpired("gmail: invalid_grant")] * 20)
    run.run()
    run.run(timedelta(minutes=30))
    assert alerts(run) == []


def test_the_alert_is_queued_once_for_an_episode_whoever_asks(passes):  # noqa: F811
    run = passes(lambda operation, uid: None)
    error = CredentialsExpired("busy: not delegated in the Admin console: add client id 1234 with scopes "
                               "https://www.googleapis.com/auth/calendar.freebusy")
    since = run.now
    assert alert_organizer(run.program, "busy", error, since, run.now) is True
    # The same episode told again (another replica, a restart): nothing more is queued.
    assert alert_organizer(run.program, "busy", error, since, run.now + timedelta(minutes=5)) is False
    assert [alert.key for alert in alerts(run)] == [f"alert:credentials:busy:{since.isoformat()}"]


def google_config(tmp_path: Path, auth: str):  # type: ignore[no-untyped-def]
    text = (EXAMPLES / "example-google.yaml").read_text()
    text = text.replace("      service_account_key: secrets/coachd-service-account.json", f"      {auth}")
    return load_config_text(text, tmp_path / "google.yaml")


def test_no_alert_through_gmail_on_the_same_login_but_one_through_a_shared_service_account(tmp_path):
    one_login = google_config(tmp_path, "client_secrets: secrets/oauth-client.json")
    assert _same_login(one_login, "calendar") and _same_login(one_login, "busy")
    # Delegation is granted scope by scope: the calendar's missing leaves Gmail's working.
    assert not _same_login(google_config(tmp_path, "service_account_key: secrets/key.json"), "calendar")


def microsoft_config(tmp_path, credential: str, send_mailbox: str = ""):  # type: ignore[no-untyped-def]
    text = (EXAMPLES / "example-microsoft.yaml").read_text()
    text = text.replace("      secret_env: COACHD_GRAPH_SECRET                    # systemd: EnvironmentFile= holding it",
                        f"      {credential}" if credential else "")
    if send_mailbox:
        text = text.replace("  send: {provider: outlook, <<: *microsoft}",
                            f"  send: {{provider: outlook, <<: *microsoft, mailbox: {send_mailbox}}}")
    return load_config_text(text, tmp_path / "microsoft.yaml")


def test_no_alert_through_outlook_on_the_same_delegated_login_but_one_for_app_only_access(tmp_path):
    one_login = microsoft_config(tmp_path, "")
    assert _same_login(one_login, "calendar") and _same_login(one_login, "receive")
    # Another mailbox's login, or app-only access (granted permission by permission), can still mail.
    assert not _same_login(microsoft_config(tmp_path, "", send_mailbox="office@fabrikam.example"), "calendar")
    assert not _same_login(microsoft_config(tmp_path, "secret_env: COACHD_GRAPH_SECRET"), "calendar")
