"""Fixtures the unit tests share: the example program and the instant it starts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from coachd.config import ProgramConfig, load_config
from coachd.model.types import UTC

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


@pytest.fixture(scope="module")
def cfg() -> ProgramConfig:
    """config/example.yaml (a test module that needs another program defines its own `cfg`)."""
    return load_config(EXAMPLE)


@pytest.fixture(scope="module")
def start(cfg: ProgramConfig) -> datetime:
    """The first instant of the program, in UTC."""
    return datetime.combine(cfg.program.starts, datetime.min.time(), cfg.program.zone).astimezone(UTC)
