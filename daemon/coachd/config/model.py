"""The program config as a validated model: program, outcomes, people, teams and their lookups."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BeforeValidator,
    Discriminator,
    EmailStr,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from coachd.config.providers import PROVIDER_TAGS, Organizer
from coachd.config.settings import (
    CheckIns,
    DaemonIntervals,
    Digest,
    Mail,
    Scheduling,
    Section,
    Sessions,
    Store,
    Templates,
)
from coachd.config.values import Days, Hours, Number, Slug, ZoneName, is_slug, parse_number, shown

# Union branches, and the marker of a mapping's key, show up in pydantic's error locations; the
# loader drops these names from paths, so a bad date in measured: reads `...measured.2027-13-01`
# and a bad smtp port `organizer.send.port`.
UNION_TAGS = frozenset({"blackout-date", "blackout-range", "[key]"}) | PROVIDER_TAGS


class BlackoutRange(Section):
    """Consecutive days with no sessions, both ends included."""

    start: date = Field(alias="from", description="First day without sessions.")
    end: date = Field(alias="to", description="Last day without sessions (inclusive).")

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and value < start:
            raise PydanticCustomError("blackout_range", f"ends before it starts ({value} is before {start})")
        return value


def _blackout_kind(value: Any) -> str:
    return "blackout-range" if isinstance(value, (dict, BlackoutRange)) else "blackout-date"


Blackout = Annotated[
    Annotated[date, Tag("blackout-date")] | Annotated[BlackoutRange, Tag("blackout-range")],
    Discriminator(_blackout_kind),
]


MeasureValue = Annotated[float | None, BeforeValidator(parse_number), WithJsonSchema({"type": "number"})]


class Outcome(Section):
    """An outcome agreed with the sponsors: its text and, when it is measured, baseline, target and readings.

    Written as plain text, or as a mapping with text, baseline and target (unit and measured optional).
    """

    text: str = Field(min_length=1, description="The outcome as the sponsors agreed it.")
    # Required numbers in a mapping; None only in outcomes written as plain text (see `plain`).
    baseline: MeasureValue = Field(description="The measure when the program started.")
    target: MeasureValue = Field(description="The measure the program aims for; not the baseline.")
    unit: str = Field(default="", description="Unit of the measure as it is shown after a number: %, days, deals.")
    measured: dict[date, Number] = Field(
        default={}, description="Readings so far: {date: value}; digests show the last one up to their period's end."
    )

    @field_validator("target")
    @classmethod
    def _not_baseline(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value == info.data.get("baseline"):
            raise PydanticCustomError(
                "outcome_target",
                f"the target must differ from the baseline ({value:g}), or progress cannot be measured",
            )
        return value

    @field_validator("measured")
    @classmethod
    def _in_date_order(cls, value: dict[date, float]) -> dict[date, float]:
        return dict(sorted(value.items()))

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A plain outcome dumps back to the text it was written as, so a dumped config loads again.
        return self.text if self.baseline is None else handler(self)

    @classmethod
    def plain(cls, text: str) -> Outcome:
        """An outcome written as text only: nothing to measure."""
        return cls.model_construct(text=text, baseline=None, target=None, unit="", measured={})

    def __str__(self) -> str:
        # Templates and older code print outcomes as the text they were before they could be measured.
        return self.text

    def latest(self, on: date) -> tuple[date, float] | None:
        """The last reading on or before `on`, as (date, value), or None."""
        day = max((d for d in self.measured if d <= on), default=None)
        return None if day is None else (day, self.measured[day])

    def progress(self, on: date) -> float | None:
        """How far the latest reading on or before `on` has come from baseline to target: 0 at the
        baseline, 1 at the target; below 0 or above 1 when it went back or beyond. None if unmeasured."""
        reading = self.latest(on)
        if reading is None or self.baseline is None or self.target is None:
            return None
        return (reading[1] - self.baseline) / (self.target - self.baseline)


def _outcome_item(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise PydanticCustomError("outcome", "must not be empty")
        return Outcome.plain(value)
    if isinstance(value, (dict, Outcome)):
        return value
    raise PydanticCustomError(
        "outcome", "expected the outcome as text, or a mapping with text, baseline and target, got {value}",
        {"value": shown(value)},
    )


class _TextOrOutcome:
    """JSON Schema of an outcome item: plain text, or the Outcome mapping."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string", "minLength": 1}, handler(schema)]}


OutcomeItem = Annotated[Outcome, BeforeValidator(_outcome_item), _TextOrOutcome]


class Program(Section):
    """The coaching program itself."""

    id: Slug = Field(description="Short lowercase id, used in mail headers and idempotency keys; never change it.")
    name: str = Field(min_length=1, description="The program's name as people read it.")
    timezone: ZoneName = Field(description="IANA zone for program dates and blackout days, e.g. America/Chicago.")
    starts: date = Field(description="First day of the program (ISO date).")
    ends: date = Field(description="Last day of the program (ISO date), after starts.")
    blackout: list[Blackout] = Field(
        default=[], description="Days without sessions: dates, or {from: date, to: date} ranges."
    )
    outcomes: list[OutcomeItem] = Field(
        default=[],
        description="The outcomes agreed with the sponsors at the start; digests report on them. Each is text, "
        "or {text, baseline, target, unit, measured: {date: value}} to show progress.",
    )
    recognise_people: bool = Field(
        default=False, description="Let sponsor digests name coachees to recognise (key talent); off by default."
    )

    @field_validator("ends")
    @classmethod
    def _after_starts(cls, value: date, info: ValidationInfo) -> date:
        starts = info.data.get("starts")
        if starts is not None and value <= starts:
            raise PydanticCustomError("program_dates", f"the program must end after it starts ({starts}), got {value}")
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _blackout_days(self) -> frozenset[date]:
        days: set[date] = set()
        for entry in self.blackout:
            if isinstance(entry, BlackoutRange):
                days.update(entry.start + timedelta(days=i) for i in range((entry.end - entry.start).days + 1))
            else:
                days.add(entry)
        return frozenset(days)

    def blackout_days(self) -> set[date]:
        """Every date with no sessions, ranges expanded; a fresh set the caller may change."""
        return set(self._blackout_days)

    @property
    def outcome_texts(self) -> list[str]:
        """The outcomes as the sponsors read them, without measures."""
        return [o.text for o in self.outcomes]


class Person(Section):
    """Anyone in the program: coach, coachee or sponsor (teams and sponsors say which)."""

    id: Slug = Field(description="Short lowercase id that teams, sponsors and digest.to refer to.")
    name: str = Field(min_length=1, description="Full name as shown in mail and invitations.")
    email: EmailStr = Field(description="Where invitations and mail go; replies are matched on it.")
    timezone: ZoneName = Field(description="IANA zone the person works in; their times are shown in it.")
    hours: Hours = Field(
        default="09:00-17:00",
        validate_default=True,
        description="Working hours in the person's own zone, HH:MM-HH:MM. Sessions are booked inside them.",
    )
    days: Days = Field(
        default="mon-fri",
        validate_default=True,
        description="Working days: a range like mon-fri or sun-thu, or a list like [mon, wed].",
    )
    busy: str | None = Field(
        default=None,
        description="Busy times: an .ics file relative to this file, or an http(s) URL of an ICS feed.",
    )
    aliases: list[EmailStr] = Field(default=[], description="Other addresses the person may reply from.")

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Team(Section):
    """A coach and the coachees they meet as a group and one to one."""

    id: Slug = Field(description="Short lowercase id of the team.")
    name: str = Field(min_length=1, description="The team's name as people read it.")
    coach: Slug = Field(description="Person id of the team's coach.")
    members: list[Slug] = Field(min_length=1, description="Person ids of the coachees; each in one team only.")


class BusySourceLimits(Section):
    """Bounds on reading each person's own `busy:` file or feed; a source over one is that person's failure."""

    deadline_seconds: float = Field(
        default=30, gt=0, le=3600,
        description="Seconds one busy file or feed may take, fetch, parsing and recurrence together.",
    )
    max_bytes: int = Field(default=20_000_000, gt=0, description="Largest busy file or feed body, in bytes.")
    max_events: int = Field(default=20_000, gt=0, description="Most events (VEVENT) in one busy calendar.")
    max_instances: int = Field(
        default=100_000, gt=0,
        description="Most occurrences one busy calendar's recurring events may generate, from each rule's "
        "start to the end of the weeks read; a rule repeating every second or minute goes over it.",
    )
    workers: int = Field(default=4, ge=1, le=64, description="Busy sources read at the same time.")


class Daemon(DaemonIntervals):
    """How often `coachd run` does each job, and the bounds on reading people's busy calendars."""

    busy_limits: BusySourceLimits = Field(
        default=BusySourceLimits(), description="Limits on each person's own busy file or feed."
    )


class ProgramConfig(Section):
    """One program's config file. Load it with coachd.config.load_config, which also checks references."""

    program: Program = Field(description="The program: id, name, zone, dates, blackout days, outcomes.")
    organizer: Organizer = Field(description="Who invites and writes, and through which providers.")
    people: list[Person] = Field(min_length=1, description="Everyone in the program.")
    sponsors: list[Slug] = Field(default=[], description="Person ids of the program's sponsors.")
    teams: list[Team] = Field(min_length=1, description="Teams, each with a coach and members.")
    sessions: Sessions = Field(default=Sessions(), description="Which sessions are booked, how often, how long.")
    mail: Mail = Field(default=Mail(), description="When mail goes out around sessions.")
    digest: Digest = Field(default=Digest(), description="The sponsors' periodic digest.")
    check_ins: CheckIns = Field(default=CheckIns(), description="Check-in cadence by coachee state.")
    store: Store = Field(default=Store(), description="The state database.")
    daemon: Daemon = Field(default=Daemon(), description="The daemon's job intervals and busy source limits.")
    scheduling: Scheduling = Field(default=Scheduling(), description="Rules for picking session times.")
    templates: Templates = Field(default=Templates(), description="Email template overrides.")

    _source: Path = PrivateAttr(default_factory=lambda: Path("config.yaml").absolute())

    @model_validator(mode="before")
    @classmethod
    def _digest_to_sponsors(cls, data: Any) -> Any:
        # "Default: every sponsor" needs the sponsors, which a field default cannot see.
        if not isinstance(data, dict) or not isinstance(data.get("sponsors", []), list):
            return data
        digest = data.get("digest", {})
        if isinstance(digest, dict) and "to" not in digest:
            # Malformed sponsor ids are reported under sponsors:, not again under a digest.to nobody wrote.
            sponsors = [s for s in data.get("sponsors", []) if is_slug(s)]
            data = {**data, "digest": {**digest, "to": sponsors}}
        return data

    @model_validator(mode="after")
    def _take_source(self, info: ValidationInfo) -> ProgramConfig:
        source = (info.context or {}).get("source")
        if source is not None:
            self._source = Path(source).absolute()
        return self

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """JSON Schema of the config file (for `coachd schema` and editors)."""
        return cls.model_json_schema(by_alias=True)

    @property
    def source(self) -> Path:
        """The config file this was loaded from (absolute)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config (busy:, templates.folder) are relative to this directory."""
        return self._source.parent

    def resolve(self, relative: str | Path) -> Path:
        """A config path as the file means it: relative to base_dir; absolute paths stay."""
        return self.base_dir / Path(relative).expanduser()

    @cached_property
    def people_by_id(self) -> Mapping[str, Person]:
        return MappingProxyType({p.id: p for p in self.people})

    @cached_property
    def person_id_by_email(self) -> Mapping[str, str]:
        """Lower-case email address (own, or an alias) -> person id: who a calendar answer or a reply is from."""
        found = {str(p.email).lower(): p.id for p in self.people}
        found |= {str(a).lower(): p.id for p in self.people for a in p.aliases}
        return MappingProxyType(found)

    @cached_property
    def _teams_by_id(self) -> Mapping[str, Team]:
        return MappingProxyType({t.id: t for t in self.teams})

    @cached_property
    def _team_of_member(self) -> Mapping[str, Team]:
        return MappingProxyType({m: t for t in reversed(self.teams) for m in t.members})

    @cached_property
    def _coaches(self) -> tuple[Person, ...]:
        ids = dict.fromkeys(t.coach for t in self.teams)
        return tuple(self.people_by_id[i] for i in ids)

    @cached_property
    def _coachees(self) -> tuple[Person, ...]:
        ids = dict.fromkeys(m for t in self.teams for m in t.members)
        return tuple(self.people_by_id[i] for i in ids)

    def person(self, person_id: str) -> Person:
        try:
            return self.people_by_id[person_id]
        except KeyError:
            raise KeyError(f"no person {person_id!r} in program {self.program.id}") from None

    def team(self, team_id: str) -> Team:
        try:
            return self._teams_by_id[team_id]
        except KeyError:
            raise KeyError(f"no team {team_id!r} in program {self.program.id}") from None

    def team_of(self, person_id: str) -> Team | None:
        """The team the person is a member (coachee) of, or None."""
        return self._team_of_member.get(person_id)

    def teams_coached_by(self, person_id: str) -> list[Team]:
        return [t for t in self.teams if t.coach == person_id]

    def coaches(self) -> list[Person]:
        """Team coaches in config order, each once."""
        return list(self._coaches)

    def coachees(self) -> list[Person]:
        """Team members in config order (team by team), each once."""
        return list(self._coachees)

    def sponsor_people(self) -> list[Person]:
        return [self.people_by_id[s] for s in self.sponsors]
