"""load_config: read the YAML file, validate it, check it, and report every problem at once."""

from __future__ import annotations

import os
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from coachd.config.checks import file_problems, reference_problems
from coachd.config.model import UNION_TAGS, ProgramConfig
from coachd.config.problems import ConfigError, Problem, dotted, ordered
from coachd.config.providers import quoted_names
from coachd.config.values import shown, suggest
from coachd.config.yamltree import Document, Key, read_yaml
from coachd.providers import registry
from coachd.providers.family import ROLES

_SECTIONS = "program:, organizer:, people:, teams:"
# A program of a thousand people is about 200 KB of YAML; anything far larger is a mistake (a log or a
# binary written over the config), and reading, parsing and checking it would cost minutes and gigabytes.
MAX_CONFIG_BYTES = 1024 * 1024


def load_config(path: str | Path) -> ProgramConfig:
    """Load and check a program's config file; raises ConfigError listing every problem."""
    path = Path(path).absolute()
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)  # never more: the file may be huge, or endless
            size = os.fstat(file.fileno()).st_size
    except OSError as error:
        raise ConfigError(path, [Problem("", f"cannot read the config file: {error.strerror or error}")]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(path, [Problem("", f"the file is {_megabytes(max(size, len(raw)))}; a config is at most "
                                             f"{_megabytes(MAX_CONFIG_BYTES)} (is this the right file?)")])
    try:
        text = raw.decode("utf-8-sig")  # tolerate the BOM some Windows editors write
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(path, [Problem("", "the file is not UTF-8 text", line)]) from None
    return load_config_text(text, path)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def load_config_text(text: str, source: Path) -> ProgramConfig:
    """Load config text as if read from `source` (relative paths resolve beside it)."""
    source = Path(source).absolute()
    doc = read_yaml(text)
    problems = list(doc.problems)
    config: ProgramConfig | None = None
    if not problems or isinstance(doc.data, dict):
        try:
            config, found = _validate(doc, source)
            problems += found
        except Exception as error:  # a traceback is what an admin must never see; name it as our bug
            problems.append(Problem("", f"internal error while checking ({type(error).__name__}: {error})"))
    if problems or config is None:
        raise ConfigError(source, ordered(problems))
    return config


def _validate(doc: Document, source: Path) -> tuple[ProgramConfig | None, list[Problem]]:
    data = doc.data
    if data is None:
        return None, [Problem("", f"the file is empty; expected the sections {_SECTIONS} ...")]
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the value {shown(data)}"
        return None, [Problem("", f"expected a mapping with the sections {_SECTIONS} ..., got {kind}", 1)]
    # A value YAML could not read already has its problem; do not add "expected text, got None" on top.
    taken = {p.path for p in doc.problems}
    problems: list[Problem] = []
    config = None
    try:
        config = ProgramConfig.model_validate(data, context={"source": source})
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            loc: Key = tuple(part for part in detail["loc"] if part not in UNION_TAGS)
            message = _provider_message(detail)
            if detail["type"] == "provider_name":
                loc = (*loc, "provider")
            if dotted(loc) not in taken:
                problems.append(Problem(dotted(loc), message or _message(detail, loc), doc.line_of(loc)))
    found = reference_problems(data) + file_problems(data, source.parent)
    problems += [Problem(dotted(path), message, doc.line_of(path)) for path, message in found]
    return config, problems


def _provider_message(detail: ErrorDetails) -> str | None:
    """The wording of a problem in an organizer block that names the provider at fault: an unknown
    provider name, or an option that provider does not take."""
    raw = detail["loc"]
    if len(raw) < 2 or raw[0] != "organizer" or raw[1] not in ROLES:
        return None
    role = str(raw[1])
    if detail["type"] == "provider_name":
        given = detail.get("input")
        name = given.get("provider") if isinstance(given, dict) else None
        if name is None:
            return "required key is missing"
        hint = suggest(name, list(registry.names(role))) if isinstance(name, str) else ""
        return f"expected {quoted_names(role)}, got {shown(name)}{hint}"
    if detail["type"] == "extra_forbidden" and len(raw) == 4 and isinstance(raw[2], str):
        offer = registry.offer(role, raw[2].partition(":")[2])
        if offer is None:
            return None
        options = [n for n in offer.section.model_fields if n != "provider"]
        hint = suggest(str(raw[3]), options)
        if not hint:
            hint = f" (its options: {', '.join(options)})" if options else " (it takes no options)"
        return f"not an option of {offer.described}{hint}"
    return None


def _message(detail: ErrorDetails, loc: Key) -> str:
    """Pydantic's wording, made to read like the rest of `coachd check`."""
    kind, value, ctx = detail["type"], detail.get("input"), detail.get("ctx") or {}
    reason = detail["msg"].partition(", ")[2]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        hint = suggest(str(loc[-1]), allowed)
        if hint or not allowed:
            return f"unknown key{hint}"
        return f"unknown key (expected one of: {', '.join(allowed)})"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping of keys to values, got {shown(value)}"
    if kind == "list_type":
        return f"expected a list, got {shown(value)}"
    if kind == "string_type":
        return f"expected text, got {shown(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return "expected at least one entry"
    if kind.startswith("date_"):
        return f"expected a date like 2027-01-04, got {shown(value)}" + (f" ({reason})" if reason else "")
    if kind == "literal_error":
        choices = [e.strip("'") for e in str(ctx.get("expected", "")).replace(" or ", ", ").split(", ")]
        hint = suggest(value, choices) if isinstance(value, str) else ""
        return f"expected {ctx.get('expected')}, got {shown(value)}{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {shown(value)}"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"must be {'at least' if kind == 'greater_than_equal' else 'at most'} {ctx.get('ge', ctx.get('le'))}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {shown(value)}"
    message = detail["msg"]
    if message.startswith("value is not a valid email address"):
        return f"{shown(value)} is not a valid email address{message.partition(':')[1]}{message.partition(':')[2]}"
    return message[:1].lower() + message[1:]


def _keys_at(loc: Key) -> list[str]:
    """The keys the model accepts at loc, for 'did you mean' on unknown keys."""
    current: Any = ProgramConfig
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if typing.get_origin(current) is list and args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            current = fields[part].annotation if part in fields else None
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, ...] -> X; X | Y -> the model or list among them."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            arg = _unwrap(arg)
            if typing.get_origin(arg) is list or (isinstance(arg, type) and issubclass(arg, BaseModel)):
                return arg
    return annotation
