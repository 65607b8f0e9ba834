"""Program configuration: YAML -> validated model, every problem reported with its path and line."""

from __future__ import annotations

from daemon.config.loader import load_config, load_config_text
from daemon.config.model import BlackoutRange, Person, Program, ProgramConfig, Team
from daemon.config.problems import ConfigError, Problem
from daemon.config.providers import CalendarProvider, Organizer, ReceiveProvider, SendProvider
from daemon.config.settings import Cadence, Single
from daemon.config.summary import summary_text
from daemon.config.values import WorkingHours, format_duration, parse_days, parse_duration, parse_hours

__all__ = [
    "BlackoutRange",
    "Cadence",
    "CalendarProvider",
    "ConfigError",
    "Organizer",
    "Person",
    "Problem",
    "Program",
    "ProgramConfig",
    "ReceiveProvider",
    "SendProvider",
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
