"""Whatever the file holds, load_config answers with a config or a ConfigError, never a traceback."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachd.config import ConfigError, ProgramConfig, load_config_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text()
EXAMPLE_DATA = yaml.safe_load(EXAMPLE_TEXT)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(text: str) -> ProgramConfig | None:
    """Load, asserting the only failure is a ConfigError whose problems are not our own bugs."""
    try:
        return load_config_text(text, EXAMPLE)
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert "internal error" not in problem.message, problem
            assert isinstance(problem.line, int | None)
            str(problem)
        return None


yaml_ish = st.text(alphabet=st.sampled_from(list("abc:-[]{},#&*!|>'\"\n\t 0123456789.@/")), max_size=200)


@FUZZ
@given(st.one_of(st.text(max_size=300), yaml_ish))
def test_random_text(text):
    load(text)


@FUZZ
@given(st.data())
def test_line_mutations_of_the_example(data):
    lines = EXAMPLE_TEXT.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "repeat", "dedent", "cut"]))
        if action == "drop":
            del lines[index]
        elif action == "repeat":
            lines.insert(index, lines[index])
        elif action == "dedent":
            lines[index] = lines[index].lstrip()
        else:
            lines[index] = lines[index][: data.draw(st.integers(0, max(len(lines[index]) - 1, 0)))]
        if not lines:
            break
    load("\n".join(lines))


@FUZZ
@given(st.data())
def test_character_mutations_of_the_example(data):
    text = EXAMPLE_TEXT
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text) - 1))
        text = text[:at] + data.draw(st.text(max_size=3)) + text[at + 1 :]
    load(text)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), st.text(max_size=12),
    st.sampled_from(["mon-fri", "1w", "09:00-17:00", "maria", "ana", "UTC", "2027-01-04", "calendars/maria.ics"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


ALL_PATHS = list(_paths(EXAMPLE_DATA))[1:]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), values), min_size=1, max_size=3))
def test_replacing_parts_of_the_example_with_anything(replacements):
    data = copy.deepcopy(EXAMPLE_DATA)
    for path, value in replacements:
        node = data
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this part
    load(yaml.safe_dump(data, allow_unicode=True))


def test_the_unmutated_example_loads():
    assert load(EXAMPLE_TEXT) is not None
