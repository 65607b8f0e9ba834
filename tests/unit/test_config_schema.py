"""`coachd schema` says what the loader reads: every default and example in it loads, and matches its own pattern."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter

from coachd.config import ProgramConfig


def models(root: type[BaseModel]) -> Iterator[type[BaseModel]]:
    seen: set[type] = set()
    stack = [root]
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        yield model
        for field in model.model_fields.values():
            todo = [field.annotation]
            while todo:
                annotation = todo.pop()
                if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                    stack.append(annotation)
                todo.extend(typing.get_args(annotation))


def examples(prop: dict[str, Any]) -> Iterator[tuple[Any, str | None]]:
    """(value, the pattern of the subschema that lists it) for every example in a property's schema."""
    for value in prop.get("examples", []):
        yield value, prop.get("pattern")
    for branch in (*prop.get("oneOf", []), *prop.get("anyOf", [])):
        yield from examples(branch)
    if isinstance(prop.get("items"), dict):
        for value, pattern in examples(prop["items"]):
            yield [value], None
            if pattern and isinstance(value, str):
                assert re.search(pattern, value), (value, pattern)


def cases() -> Iterator[Any]:
    schema = ProgramConfig.json_schema()
    for model in models(ProgramConfig):
        props = schema["properties"] if model is ProgramConfig else schema["$defs"].get(model.__name__, {}).get(
            "properties", {})
        for name, field in model.model_fields.items():
            prop = props.get(field.alias or name)
            if prop is None:
                continue
            shown: list[tuple[str, Any, str | None]] = [("example", v, p) for v, p in examples(prop)]
            if prop.get("default") is not None:
                shown.append(("default", prop["default"], prop.get("pattern")))
            for what, value, pattern in shown:
                yield pytest.param(model, name, field, value, pattern, id=f"{model.__name__}.{name}-{what}-{value!r}"[:90])


@pytest.mark.parametrize(("model", "name", "field", "value", "pattern"), list(cases()))
def test_every_default_and_example_in_the_schema_loads(model, name, field, value, pattern):
    annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    adapter = TypeAdapter(annotation)
    adapter.validate_python(value)  # raises with the loader's own message if the schema promised something else
    if pattern and isinstance(value, str):
        assert re.search(pattern, value), f"{model.__name__}.{name}: {value!r} does not match its pattern {pattern}"


def test_the_schema_shows_durations_as_people_write_them_and_cadences_in_weeks():
    defs = ProgramConfig.json_schema()["$defs"]
    assert defs["NotesMail"]["properties"]["after"]["default"] == "15m"
    assert defs["AgendaMail"]["properties"]["before"]["default"] == "1d"
    every = defs["Cadence"]["properties"]["every"]
    assert all(example.endswith("w") for example in every["examples"])
    assert not re.search(every["pattern"], "3d")


@pytest.mark.parametrize("days", ["Mon-Fri", "Monday-Thursday", "sun-thu", "WED"])
def test_day_spellings_the_loader_reads_match_the_schema(days):
    from coachd.config.values import parse_days

    prop = ProgramConfig.json_schema()["$defs"]["Person"]["properties"]["days"]
    patterns = [branch["pattern"] for branch in prop["oneOf"] if "pattern" in branch]
    parse_days(days)
    assert any(re.search(pattern, days) for pattern in patterns)
