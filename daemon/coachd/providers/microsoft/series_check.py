"""`coachd check` for an Outlook calendar: every series the program would book must be one Graph can hold.

Each session kind the config asks for (check-ins in every coachee state included) is drafted as the
planner drafts it, in its host's zone with the program's end, and put through the very mapping the
calendar writes with (series_to_graph). What fails there is a problem at `check` time, never a series
rounded to another rule at booking time.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from coachd.config.model import ProgramConfig
from coachd.model.types import SeriesSpec
from coachd.plan.series import STATES, SeriesNeed, check_in_needs, needs
from coachd.providers.microsoft.recurrence import RuleNotExpressible, series_to_graph
from coachd.providers.microsoft.zones import ZoneNotExpressible

# A representative hour for the draft: the rule's shape, not its time, is what Graph may refuse.
_DRAFT_HOUR = time(9, 0)


def outlook_series_problems(cfg: ProgramConfig) -> list[tuple[str, str]]:
    """(field, message) for each session kind whose series an Outlook calendar could not hold."""
    calendar = cfg.organizer.calendar
    if calendar is None or calendar.provider != "outlook":
        return []
    problems: list[tuple[str, str]] = []
    for need, field in _drafted(cfg):
        problem = _problem(cfg, need)
        if problem is not None and (field, problem) not in problems:
            problems.append((field, problem))
    return problems


def _drafted(cfg: ProgramConfig) -> list[tuple[SeriesNeed, str]]:
    """Every series need with the config field that asks for it."""
    drafted = [(need, f"sessions.{need.kind.value}") for need in needs(cfg)]
    for state in STATES:
        # Check-ins exist only while a coachee is in a state that asks for them: draft each state.
        everyone = {member: state for team in cfg.teams for member in team.members}
        drafted += [(need, f"check_ins.{state}") for need in check_in_needs(cfg, everyone)]
    return drafted


def _problem(cfg: ProgramConfig, need: SeriesNeed) -> str | None:
    what = f"{need.kind.value.replace('_', ' ')} sessions ({need.key}, hosted by {need.host.person_id} in " \
           f"{need.host.timezone})"
    if need.every is not None and need.length >= need.every:
        # Stricter: Exchange refuses an occurrence that reaches the next one (EWS names the error
        # ErrorOccurrenceTimeSpanTooBig); Graph's documents say nothing, so the fake and this check refuse too.
        return f"{what}: an Outlook calendar cannot hold a session as long as the time between sessions"
    try:
        series_to_graph(_spec(cfg, need))
    except ZoneNotExpressible as error:
        return f"{what} cannot be booked in an Outlook calendar: {error}"
    except RuleNotExpressible as error:
        return f"{what} repeat in a way an Outlook calendar cannot express: {error}"
    return None


def _spec(cfg: ProgramConfig, need: SeriesNeed) -> SeriesSpec:
    zone = ZoneInfo(need.host.timezone)
    start = datetime.combine(cfg.program.starts + timedelta(weeks=need.first_week), _DRAFT_HOUR, zone)
    until = None
    if need.every is not None:
        until = datetime.combine(need.last_day, time(23, 59, 59), cfg.program.zone).astimezone(UTC)
        # A program too short for this series books none of it: nothing for Graph to refuse.
        until = until if until >= start else None
    return SeriesSpec(key=need.key, uid=f"{need.key}@check", kind=need.kind, title=need.title,
                      timezone=need.host.timezone, start=start, length=need.length, host=need.host,
                      attendees=need.attendees, every=need.every, until=until, team_id=need.team_id)
