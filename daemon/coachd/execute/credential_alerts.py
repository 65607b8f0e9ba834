"""Mail to the organizer when a provider's credentials need a person.

The failure users of comparable tools report most is silence: a refresh token dies and bookings
stop without a word. coachd already logs it once at ERROR and shows it in `coachd status`; an admin
who reads neither also gets one email, through the sender, when the sender is not the role that
died and does not log in with the same credentials (then nothing could carry it, and the log and
status are all there is). One email per episode: its outbox key names the role and when the
credentials were first refused, so ticks, restarts and replicas queue it once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING

from coachd.execute.executor import store_mail
from coachd.providers.base import CredentialsExpired
from coachd.store.outbox_repo import KeyTaken

if TYPE_CHECKING:
    from coachd.config import ProgramConfig
    from coachd.runtime.wiring import ProgramRuntime

log = logging.getLogger("coachd.providers")

# The outbox kind of these emails: not a MailKind (no template, no participant, no answer expected).
ALERT_KIND = "credentials-alert"
RECIPIENT = "organizer"


def alert_organizer(program: ProgramRuntime, role: str, error: CredentialsExpired, since: datetime,
                    now: datetime) -> bool:
    """Queue the email telling the organizer that `role`'s credentials need a person; True when queued now
    (False: the sender cannot carry it, or it was queued before for this episode)."""
    cfg = program.cfg
    if role == "send" or _same_login(cfg, role):
        log.info("%s provider: no email to the organizer about its credentials: the sender would need the "
                 "same login", role)
        return False
    key = f"alert:credentials:{role}:{since.isoformat()}"
    message = _message(cfg, role, error, since, now)
    row = {"key": key, "program_id": program.id, "kind": ALERT_KIND, "session_id": None, "series_uid": None,
           "recipient": RECIPIENT, "to_addr": str(cfg.organizer.email), "subject": str(message["Subject"]),
           "message": message.as_bytes(), "message_id": str(message["Message-ID"]), "reply_token": None,
           "status": "queued", "attempts": 0, "due_at": now, "next_attempt_at": now, "created_at": now}
    action = {"key": key, "program_id": program.id, "kind": "queue", "done_at": now,
              "detail": {"kind": ALERT_KIND, "to": RECIPIENT, "role": role}}
    try:
        store_mail(program.store, [(row, action)])
    except KeyTaken:
        return False
    log.warning("%s provider: the organizer (%s) is told by email that a person must log in again", role,
                cfg.organizer.email)
    return True


def _same_login(cfg: ProgramConfig, role: str) -> bool:
    """Whether the sender logs in with the very login `role` lost (Gmail beside Google Calendar on one
    person's installed-app login, Outlook mail beside an Outlook calendar on one delegated Microsoft
    login: a refresh token that dies for every role at once): then its email could not go either. A service account shared by both is not: delegation is granted scope by
    scope, and the one missing for the calendar leaves Gmail's working."""
    dead = getattr(getattr(cfg.organizer, role, None), "auth", None)
    sender = getattr(cfg.organizer.send, "auth", None)
    if dead is not None and dead == sender and getattr(dead, "client_secrets", None) is not None:
        return True
    # Microsoft: one delegated login (`coachd auth microsoft`) for both; app-only access is granted
    # permission by permission, as a Google service account's delegation is.
    dead_login = getattr(getattr(cfg.organizer, role, None), "delegated_login", None)
    sender_login = getattr(cfg.organizer.send, "delegated_login", None)
    if callable(dead_login) and callable(sender_login):
        login = dead_login(str(cfg.organizer.email))
        return login is not None and login == sender_login(str(cfg.organizer.email))
    return False


def _message(cfg: ProgramConfig, role: str, error: CredentialsExpired, since: datetime, now: datetime) -> EmailMessage:
    organizer = str(cfg.organizer.email)
    zone = cfg.program.zone
    message = EmailMessage()
    message["From"] = formataddr((cfg.organizer.name, organizer))
    message["To"] = formataddr((cfg.organizer.name, organizer))
    message["Subject"] = f"coachd: {cfg.program.name}: the {role} provider needs a person to log in again"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=organizer.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    message["X-Coachd-Kind"] = ALERT_KIND
    message.set_content("\n".join([
        (f"coachd cannot use the {role} provider of {cfg.program.name} any more: its credentials were refused "
        f"at {since.astimezone(zone):%Y-%m-%d %H:%M %Z}."),
        "",
        f"What the service said, and what to do: {error}",
        "",
        ("coachd keeps running and everything else goes on; the work that needs this provider waits. "
        "It tries again by itself as soon as the credentials change (a new login, a fixed key or "
        "delegation), and at most once an hour otherwise."),
        "",
        "`coachd status CONFIG` shows the same; this email is sent once for each time the credentials fail.",
    ]))
    return message
