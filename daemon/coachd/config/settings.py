"""Program-wide settings: session cadences, mail timing, digest, check-ins, daemon jobs, scheduling."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cache, cached_property
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from coachd.config.values import (
    DigestEvery,
    Duration,
    NonNegativeDuration,
    Share,
    Slug,
    Weeks,
    parse_duration,
)


class Section(BaseModel):
    """Base of every config model: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        # Lookups are cached_property values kept in __dict__; a copy with changed fields must
        # recompute them rather than inherit the original's.
        copied = super().model_copy(update=update, deep=deep)
        for name in _cached_names(type(self)):
            copied.__dict__.pop(name, None)
        return copied

    def __getstate__(self) -> dict[Any, Any]:
        # Pickled (for `coachd run`'s sender process) without the cached lookups: some are
        # read-only mapping views, which cannot be pickled, and all are recomputed on use.
        state = super().__getstate__()
        cached = _cached_names(type(self))
        state["__dict__"] = {k: v for k, v in state["__dict__"].items() if k not in cached}
        return state


@cache
def _cached_names(model: type) -> tuple[str, ...]:
    return tuple(n for k in model.__mro__ for n, v in vars(k).items() if isinstance(v, cached_property))


def _d(text: str) -> timedelta:
    # Defaults are spelled as in the YAML so the code reads like the config it stands for.
    return parse_duration(text)


class Cadence(Section):
    """A recurring session: how often and how long."""

    every: Weeks = Field(description="Time between sessions, in whole weeks (1w, 2w, 13w).")
    length: Duration = Field(description="Length of each session, e.g. 60m.")


class Single(Section):
    """A one-off session (kickoff, wrap-up): only its length."""

    length: Duration = Field(description="Length of the session, e.g. 90m.")


def _cadence(every: str, length: str) -> Cadence:
    return Cadence(every=_d(every), length=_d(length))


class Sessions(Section):
    """The sessions a program books, with their cadence."""

    group: Cadence = Field(default=_cadence("1w", "60m"), description="Each team with its coach.")
    individual: Cadence = Field(
        default=_cadence("2w", "30m"), description="One-to-ones between a coach and each coachee."
    )
    circle: Cadence = Field(default=_cadence("4w", "45m"), description="The coaches among themselves.")
    kickoff: Single = Field(
        default=Single(length=_d("90m")), description="Everyone, once, at the start of the program."
    )
    wrapup: Single = Field(
        default=Single(length=_d("90m")), description="Everyone, once, at the end of the program."
    )
    sponsor_review: Cadence = Field(
        default=_cadence("13w", "60m"), description="Sponsors with the coaches, quarterly by default."
    )


class AgendaMail(Section):
    """The agenda sent before each session."""

    before: Duration = Field(default=_d("24h"), description="How long before a session to send it.")
    questions: list[str] = Field(
        default_factory=list,
        description="Accountability questions to rotate through, three per agenda. Default: coachd's own bank.",
    )


class NotesMail(Section):
    """The request to the coach for session notes."""

    after: Duration = Field(default=_d("15m"), description="How long after a session ends to ask.")


class FeedbackMail(Section):
    """The feedback request to attendees, and its reminder."""

    after: Duration = Field(default=_d("1h"), description="How long after a session ends to ask.")
    remind: Duration = Field(
        default=_d("3d"), description="How long to wait for an answer before one reminder."
    )


class GoalsMail(Section):
    """Periodic goal check-ins with each coachee."""

    every: Duration = Field(default=_d("4w"), description="Time between goal check-ins.")


class SummaryMail(Section):
    """The session summary sent to attendees."""

    after: Duration = Field(
        default=_d("24h"),
        description="If the coach has sent no notes this long after a session, send the summary without them.",
    )


class Mail(Section):
    """When coachd writes to people around each session."""

    agenda: AgendaMail = Field(default=AgendaMail(), description="Agenda before each session.")
    notes: NotesMail = Field(default=NotesMail(), description="Ask the coach for notes after each session.")
    feedback: FeedbackMail = Field(default=FeedbackMail(), description="Feedback request after each session.")
    goals: GoalsMail = Field(default=GoalsMail(), description="Goal check-ins with coachees.")
    summary: SummaryMail = Field(default=SummaryMail(), description="Session summary to attendees.")


class Digest(Section):
    """The periodic digest for sponsors: aggregates only, never private feedback."""

    every: DigestEvery = Field(
        default="4w",
        validate_default=True,
        description="The period each digest covers: weekly, monthly, quarterly (calendar months and quarters "
        "in the program's zone) or whole weeks like 2w or 4w counted from the program's start.",
    )
    to: list[Slug] = Field(
        default_factory=list, description="Person ids who receive the digest. Default: every sponsor; [] sends none."
    )
    coaching_target: Share | None = Field(
        default=None,
        description="Share of a coach's working hours the program expects them to spend coaching, like 10% or 0.1; "
        "digests show each coach against it. Default: no target.",
    )


class CheckIns(Section):
    """How often coachd checks in with a coachee, by the state their feedback shows."""

    stress: Weeks = Field(default=_d("1w"), description="Under stress: more frequent contact.")
    steady: Weeks = Field(default=_d("2w"), description="Steady progress.")
    momentum: Weeks = Field(default=_d("4w"), description="With momentum: less frequent contact.")


class Store(Section):
    """Where coachd keeps its state."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy database URL (e.g. postgresql+psycopg://...). Default: SQLite in the state directory; "
        "COACHD_DATABASE_URL overrides.",
    )


class DaemonIntervals(Section):
    """How often `coachd run` does each job."""

    sync: Duration = Field(default=_d("15m"), description="Read calendars and busy times.")
    plan: Duration = Field(default=_d("5m"), description="Plan and apply bookings and mail.")
    send: Duration = Field(default=_d("1m"), description="Drain the outbox.")
    inbox: Duration = Field(default=_d("5m"), description="Read replies.")
    digest: Duration = Field(default=_d("1h"), description="See whether a digest or review is due.")


class Scheduling(Section):
    """Rules the planner follows when it picks times."""

    notice: NonNegativeDuration = Field(
        default=_d("48h"), description="Never book or move a session sooner than this from now."
    )
    buffer: NonNegativeDuration = Field(
        default=_d("15m"), description="Free time kept before and after each session; 0m for none."
    )
    max_individual_per_day: int = Field(
        default=4, ge=1, description="At most this many one-to-ones a day for one coach."
    )
    max_cancellations: int = Field(
        default=10,
        ge=0,
        description="A plan that would cancel more future occurrences than this at once waits for an admin.",
    )
    make_up_blackouts: bool = Field(
        default=True,
        description="Move a session that falls on a blackout day to another day of the same week; "
        "false just skips it.",
    )


class Templates(Section):
    """Email templates."""

    folder: str | None = Field(
        default=None,
        description="A folder of Jinja2 templates overriding the built-in ones, relative to this file. "
        "Default: the built-in templates.",
    )
