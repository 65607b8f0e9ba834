"""The one-screen summary `coachd check` prints for a valid config."""

from __future__ import annotations

from coachd.config.model import ProgramConfig
from coachd.config.settings import Cadence, Single
from coachd.config.values import format_duration, format_share


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _session(name: str, session: Cadence | Single) -> str:
    length = format_duration(session.length)
    if isinstance(session, Cadence):
        return f"{name} {length} every {format_duration(session.every)}"
    return f"{name} {length} once"


def _digest(cfg: ProgramConfig) -> str:
    digest = cfg.digest
    text = f"{digest.every.label} to {', '.join(digest.to) or 'nobody'}"
    if digest.coaching_target is not None:
        text += f", coaching target {format_share(digest.coaching_target)} of working hours"
    return text


def summary_text(cfg: ProgramConfig) -> str:
    """Program, dates, zone, who is in it, zones, providers, session cadences, digest and outcomes, one line each."""
    program, organizer = cfg.program, cfg.organizer
    weeks = ((program.ends - program.starts).days + 1) / 7
    blackout = len(program.blackout_days())
    zones = sorted({p.timezone for p in cfg.people})
    teams = "; ".join(f"{t.id} ({t.coach}: {', '.join(t.members)})" for t in cfg.teams)
    sessions = cfg.sessions
    cadences = ", ".join(
        _session(name.replace("_", " "), getattr(sessions, name))
        for name in ("kickoff", "group", "individual", "circle", "sponsor_review", "wrapup")
    )
    lines = [
        f"{program.name} ({program.id})",
        f"  dates      {program.starts} to {program.ends} ({weeks:.0f} weeks), {_plural(blackout, 'blackout day')}",
        f"  zone       {program.timezone}",
        f"  people     {len(cfg.people)}: {_plural(len(cfg.coaches()), 'coach', 'coaches')}, "
        f"{_plural(len(cfg.coachees()), 'coachee')}, {_plural(len(cfg.sponsors), 'sponsor')}",
        f"  teams      {len(cfg.teams)}: {teams}",
        f"  zones      {len(zones)}: {', '.join(zones)}",
        f"  organizer  {organizer.name} <{organizer.email}>",
        f"  providers  calendar {organizer.calendar.provider}, send {organizer.send.provider}, "
        f"receive {organizer.receive.provider}",
        f"  sessions   {cadences}",
        f"  digest     {_digest(cfg)}",
    ]
    if program.outcomes:
        measured = sum(1 for o in program.outcomes if o.target is not None)
        lines.append(f"  outcomes   {len(program.outcomes)}, {measured} with a target")
    return "\n".join(lines)
