"""What a config file may cost to read: its size, one value's length, and how many problems are printed."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from coachd.cli.commands import main
from coachd.config import ConfigError, load_config, load_config_text
from coachd.config.loader import MAX_CONFIG_BYTES
from coachd.config.yamltree import MAX_VALUE_CHARS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "config"
MINIMAL = (FIXTURES / "minimal.yaml").read_text()


def test_a_huge_config_file_is_refused_without_being_read_whole(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as out:  # sparse: 200 MB that cost nothing on disk
        out.truncate(200 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as error:
            load_config(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_CONFIG_BYTES
    [problem] = [str(p) for p in error.value.problems]
    assert "200.0 MB" in problem and "at most 1.0 MB" in problem


def test_a_config_just_under_the_cap_is_read(tmp_path):
    path = tmp_path / "padded.yaml"
    padding = "#" * 1000 + "\n"
    path.write_text(MINIMAL + padding * ((MAX_CONFIG_BYTES - len(MINIMAL) - 10) // len(padding)))
    assert path.stat().st_size <= MAX_CONFIG_BYTES
    assert load_config(path).program.id


def test_a_huge_value_is_a_problem_naming_its_field_and_line():
    text = MINIMAL.replace("name: Mini Program", "name: " + "x" * (MAX_VALUE_CHARS + 1), 1)
    started = time.monotonic()
    with pytest.raises(ConfigError) as error:
        load_config_text(text, FIXTURES / "inline.yaml")
    assert time.monotonic() - started < 10
    messages = [str(p) for p in error.value.problems]
    assert any(m.startswith("program.name: ") and f"at most {MAX_VALUE_CHARS:,}" in m and "(line 2)" in m
               for m in messages), messages


def test_check_prints_the_first_problems_and_a_count(tmp_path):
    path = tmp_path / "unknown-keys.yaml"
    path.write_text(MINIMAL + "".join(f"unknown_{n}: 1\n" for n in range(5000)))
    result = CliRunner().invoke(main, ["check", str(path)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "5000 problems" in result.output
    assert "unknown_0" in result.output
    assert "unknown_4999" not in result.output
    assert "and 4950 more" in result.output
    assert len(result.output) < 20_000
