"""The program config as a validated model: program, people, teams and their lookups."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    Discriminator,
    EmailStr,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from daemon.config.providers import Organizer
from daemon.config.settings import (
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
from daemon.config.values import Days, Hours, Slug, ZoneName, is_slug

# Union branches show up in pydantic's error locations; the loader drops these names from paths.
UNION_TAGS = frozenset({"blackout-date", "blackout-range"})


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
    outcomes: list[str] = Field(
        default=[], description="The outcomes agreed with the sponsors at the start; digests report on them."
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


class ProgramConfig(Section):
    """One program's config file. Load it with daemon.config.load_config, which also checks references."""

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
    daemon: DaemonIntervals = Field(default=DaemonIntervals(), description="The daemon's job intervals.")
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
