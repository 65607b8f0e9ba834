"""Each bad config in tests/fixtures/config yields exactly the problems its `# expect:` lines list."""

from __future__ import annotations

from pathlib import Path

import pytest

from coachd.config import ConfigError, load_config

FIXTURES = Path(__file__).parents[1] / "fixtures" / "config"
BAD = sorted(p for p in FIXTURES.glob("*.yaml") if "# expect: " in p.read_text())


def expected(path: Path) -> list[str]:
    base = str(path.parent.absolute())
    return [
        line.removeprefix("# expect: ").replace("{base}", base)
        for line in path.read_text().splitlines()
        if line.startswith("# expect: ")
    ]


def test_there_are_bad_fixtures():
    assert len(BAD) >= 10


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_config_reports_exactly_the_expected_problems(path: Path):
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert [str(p) for p in error.value.problems] == expected(path)
    assert error.value.file == path.absolute()


def test_minimal_fixture_is_valid():
    cfg = load_config(FIXTURES / "minimal.yaml")
    assert cfg.program.id == "mini"
    assert [p.id for p in cfg.coaches()] == ["cora"]
