"""`coachd preview`: what one email will look like, built from the config and the state as the daemon would."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console

from coachd.mail import contexts
from coachd.config import ProgramConfig
from coachd.plan import series as series_mod
from coachd.model.actions import BookSeries, QueueMail
from coachd.model.mail_kinds import ITIP_KINDS, SESSION_KINDS, MailKind, is_mail_kind
from coachd.model.observed import Booking, Observed
from coachd.model.periods import digest_periods, last_ended
from coachd.plan.planner import plan, review_mail
from coachd.model.types import Attendee, BookedSeries, Occurrence, Role, SessionKind
from coachd.mail import Composer, Envelope
from coachd.observe.readonly import clock_of, read_observed

# Program kinds about one session: the review pack (a sponsor review) and, with --session, the
# wrap-up survey (a team's wrap-up); without --session a wrap-up is the sponsors' final report.
_SESSION_OF = {MailKind.REVIEW: SessionKind.SPONSOR_REVIEW, MailKind.WRAP_UP: SessionKind.WRAPUP}


class PreviewError(Exception):
    """Input the preview cannot use: unknown kind, session or person."""


def preview(console: Console, cfg: ProgramConfig, state: Path, kind: str, session_id: str | None,
            person_id: str | None, html_out: Path | None, now: datetime | None = None) -> None:
    if not is_mail_kind(kind):
        raise PreviewError(f"unknown email kind {kind!r}; known: {', '.join(MailKind)}")
    kind = MailKind(kind)
    now = now or clock_of(cfg, state)  # a simulated state's own clock, as status and report use
    observed = _with_planned(cfg, read_observed(cfg, state)[0], now)
    if kind in SESSION_KINDS or kind == MailKind.REVIEW or (kind == MailKind.WRAP_UP and session_id):
        mail = _session_mail(cfg, observed, kind, session_id, person_id, now)
    else:
        if session_id:
            raise PreviewError(f"a {kind} is about the program, not a session: leave out --session")
        mail = _program_mail(cfg, kind, person_id, now)
    context = contexts.build(cfg, observed, mail, now)
    booking = observed.bookings.get(mail.series_key) if mail.series_key else None
    envelope = Envelope(key=mail.key, sender_name=cfg.organizer.name, sender_email=str(cfg.organizer.email),
                        date=now, series_uid=booking.series.spec.uid if booking else None,
                        session_id=mail.session_id)
    folder = cfg.resolve(cfg.templates.folder) if cfg.templates.folder else None
    message = Composer(folder).compose(kind, mail.recipient, context, envelope)
    _show(console, message)
    if html_out is not None:
        html_out.write_text(browsable_html(message), encoding="utf-8")
        console.print(f"(HTML part written to {html_out})", highlight=False)


def browsable_html(message: EmailMessage) -> str:
    """The HTML part with its inline images (cid: references) turned into data: URIs, so the one
    file shows the charts in a browser as a mail client shows them."""
    html_part = message.get_body(("html",))
    if html_part is None:
        return ""
    html = str(html_part.get_content())
    for part in message.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_payload(decode=True)).decode("ascii")
            html = html.replace(f"cid:{cid.strip('<>')}", f"data:{part.get_content_type()};base64,{data}")
    return html


def _with_planned(cfg: ProgramConfig, observed: Observed, now: datetime) -> Observed:
    """What is booked, plus what the planner would book now: a preview works before the daemon ran."""
    start = datetime.combine(cfg.program.starts, time(0), cfg.program.zone) - timedelta(days=3)
    at = max(now, start)
    result = plan(cfg, observed, at, session_mail=False, program_mail=False)
    bookings = dict(observed.bookings)
    for action in result.actions:
        if isinstance(action, BookSeries):
            bookings[action.series.spec.key] = Booking(action.series, at)
    # Everything else as observed (busy times known or not, declines, states): only the bookings grow.
    return replace(observed, bookings=bookings)


def _find_session(observed: Observed, session_id: str | None, now: datetime,
                  kind: SessionKind | None = None) -> tuple[BookedSeries, Occurrence]:
    every = [(b.series, o) for b in observed.bookings.values() for o in b.series.occurrences()
             if not o.cancelled and (kind is None or b.series.spec.kind is kind)]
    if not every:
        what = f"no {kind.value.replace('_', ' ')} session" if kind else "nothing"
        raise PreviewError(f"{what} is booked or can be planned, so there is no session to preview")
    if session_id is None:
        upcoming = sorted((pair for pair in every if pair[1].end > now), key=lambda pair: pair[1].start)
        return (upcoming or every)[0]
    for series, occurrence in every:
        if occurrence.session_id == session_id:
            return series, occurrence
    examples = ", ".join(o.session_id for _, o in sorted(every, key=lambda pair: pair[1].start)[:3])
    raise PreviewError(f"no session {session_id!r}; session ids look like: {examples} "
                       "(`coachd plan` and X-Coachd-Session headers show them)")


def _session_mail(cfg: ProgramConfig, observed: Observed, kind: MailKind, session_id: str | None,
                  person_id: str | None, now: datetime) -> QueueMail:
    series, occurrence = _find_session(observed, session_id, now, _SESSION_OF.get(kind))
    people = {a.person_id: a for a in series.spec.everyone()}
    if person_id is None:
        default = series.spec.host if kind in (MailKind.NOTES_REQUEST, MailKind.REVIEW) else next(
            (a for a in series.spec.everyone() if a.person_id != series.spec.host.person_id), series.spec.host)
        recipient = default
    elif person_id in people:
        recipient = people[person_id]
    else:
        known = "" if person_id in cfg.people_by_id else " (not a person in the config)"
        raise PreviewError(f"{person_id!r}{known} does not attend {occurrence.session_id}; its people: "
                           f"{', '.join(people)}")
    if kind == MailKind.REVIEW:
        packs = [i.mail for i in review_mail(cfg, series, occurrence) if i.mail.recipient == recipient]
        return replace(packs[0], due=now)
    series_kind = kind in ITIP_KINDS
    ref = f"{series.spec.uid}/seq{series.sequence}" if series_kind else occurrence.session_id
    return QueueMail(cfg.program.id, kind, recipient, ref, now, series_key=series.spec.key,
                     occurrence=None if series_kind else occurrence)


def _program_mail(cfg: ProgramConfig, kind: MailKind, person_id: str | None, now: datetime) -> QueueMail:
    if kind in (MailKind.DIGEST, MailKind.WRAP_UP):
        allowed = list(cfg.digest.to) or list(cfg.sponsors)
        role = Role.SPONSOR
    else:
        allowed = [p.id for p in cfg.coachees()]
        role = Role.COACHEE
    if not allowed:
        raise PreviewError(f"nobody receives a {kind} in this config")
    if person_id is not None and person_id not in allowed:
        raise PreviewError(f"{person_id!r} does not receive a {kind}; who does: {', '.join(allowed)}")
    recipient: Attendee = series_mod.attendee(cfg, person_id or allowed[0], role)
    period = None
    if kind == MailKind.DIGEST:
        # The digest a sponsor would get now: the last period that has ended, or the first while none has.
        periods = digest_periods(cfg)
        period = last_ended(periods, now) or periods[0]
    elif kind == MailKind.WRAP_UP:  # the final report: the whole program
        periods = digest_periods(cfg)
        period = (periods[0][0], periods[-1][1])
    return QueueMail(cfg.program.id, kind, recipient, f"preview-{kind}", now, period=period)


def _show(console: Console, message: EmailMessage) -> None:
    for name in ("From", "To", "Subject", "Date", "X-Coachd-Kind", "X-Coachd-Session"):
        if message[name]:
            console.print(f"[bold]{name}:[/] {message[name]}", highlight=False, soft_wrap=True)
    parts = [p.get_content_type() for p in message.walk() if not p.is_multipart()]
    console.print(f"[bold]Parts:[/] {', '.join(parts)}", highlight=False)
    console.print()
    text = message.get_body(("plain",))
    console.print(str(text.get_content()) if text is not None else "(no plain-text part)", highlight=False,
                  markup=False)
