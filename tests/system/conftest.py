"""Fixtures of the system tests: one twelve-week simulation of the example program, shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.simulation import simulate

TWELVE_WEEKS = "2027-03-29"


@pytest.fixture(scope="session")
def twelve_weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`coachd simulate` of config/example.yaml over its first twelve weeks: the folder and what it printed."""
    out = tmp_path_factory.mktemp("sim")
    result = simulate("--until", TWELVE_WEEKS, "--out", str(out))
    return out, result.output
