"""Program configuration: YAML -> validated model, every problem reported with its path and line."""

from __future__ import annotations

from coachd.config.loader import load_config, load_config_text
from coachd.config.model import BlackoutRange, Person, Program, ProgramConfig, Team
from coachd.config.problems import ConfigError, Problem
from coachd.config.providers import BusySection, CalendarSection, Organizer, ReceiveSection, SendSection
from coachd.config.settings import Cadence, Single
from coachd.config.summary import summary_text
from coachd.config.values import WorkingHours, format_duration, parse_days, parse_duration, parse_hours

__all__ = [
    "BlackoutRange",
    "Cadence",
    "BusySection",
    "CalendarSection",
    "ConfigError",
    "Organizer",
    "Person",
    "Problem",
    "Program",
    "ProgramConfig",
    "ReceiveSection",
    "SendSection",
    "Single",
    "Team",
    "WorkingHours",
    "format_duration",
    "load_config",
    "load_config_text",
    "parse_days",
    "parse_duration",
    "parse_hours",
    "summary_text",
]
