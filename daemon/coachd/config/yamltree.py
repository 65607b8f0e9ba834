"""YAML text -> plain data plus the line of every key and item, via PyYAML's composed nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from coachd.config.problems import PathPart, Problem, dotted

Key = tuple[PathPart, ...]
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
# A few aliases can expand into millions of nodes; a config is never near this size.
_MAX_NODES = 200_000
# No field needs more (names, addresses, outcomes, paths); a longer value would be copied into every
# email and invitation the program sends.
MAX_VALUE_CHARS = 10_000


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so pydantic parses them and reports bad ones with a path."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor(_TIMESTAMP, lambda loader, node: loader.construct_scalar(node))


@dataclass
class Document:
    """The data of one YAML document and where each part of it sits in the file."""

    data: Any = None
    lines: dict[Key, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Key) -> int | None:
        """The line of path, or of its nearest ancestor in the file (a missing key's mapping)."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def read_yaml(text: str) -> Document:
    """Parse text; syntax errors become problems (with their line) instead of exceptions."""
    doc = Document()
    try:
        loader = _Loader(text)  # the reader rejects unprintable characters already here
    except yaml.YAMLError as error:
        doc.problems.append(_syntax_problem(error, text))
        return doc
    try:
        root = loader.get_single_node()
        if root is not None:
            doc.data = _Builder(loader, doc).build(root, (), frozenset())
    except yaml.YAMLError as error:
        doc.problems.append(_syntax_problem(error, text))
    except RecursionError:
        doc.problems.append(Problem("", "the file nests lists or mappings too deeply to read"))
    finally:
        loader.dispose()
    return doc


def _syntax_problem(error: yaml.YAMLError, text: str) -> Problem:
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1
        code = error.character if isinstance(error.character, int) else ord(error.character or "\0")
        return Problem("", f"YAML syntax error: the character #x{code:04x} is not allowed in YAML", line)
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, yaml.MarkedYAMLError):
        # The marks' own rendering quotes the whole buffer position; the line is reported apart.
        context, start = error.context, error.context_mark
        if context and start is not None and mark is not None and start.line != mark.line:
            context += f" (from line {start.line + 1})"
        message = ", ".join(p for p in (context, error.problem) if p)
    else:
        message = str(error)
    return Problem("", f"YAML syntax error: {message or 'cannot parse'}", line)


class _Builder:
    """Turns nodes into dicts, lists and scalars, recording lines and node-level problems."""

    def __init__(self, loader: _Loader, doc: Document) -> None:
        self.loader = loader
        self.doc = doc
        self.count = 0

    def problem(self, path: Key, message: str, node: Node) -> None:
        self.doc.problems.append(Problem(dotted(path), message, node.start_mark.line + 1))

    def build(self, node: Node, path: Key, ancestors: frozenset[int]) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            if self.count == _MAX_NODES + 1:
                self.problem(path, "the file expands to too many values (aliases nested too deep?)", node)
            return None
        if id(node) in ancestors:
            self.problem(path, "an alias refers to a value that contains it", node)
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        inside = ancestors | {id(node)}
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.doc.lines.setdefault((*path, index), item.start_mark.line + 1)
                items.append(self.build(item, (*path, index), inside))
            return items
        if isinstance(node, MappingNode):
            return self.mapping(node, path, inside)
        return None

    def scalar(self, node: ScalarNode, path: Key) -> Any:
        # YAML 1.1 reads 9:30 as the base-60 number 570; keep such text so messages quote what was written.
        if node.tag in _NUMBERS and ":" in node.value and node.style is None:
            return node.value
        if len(node.value) > MAX_VALUE_CHARS:
            self.problem(path, f"the value is {len(node.value):,} characters long; at most {MAX_VALUE_CHARS:,}", node)
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception as error:  # explicit tags like `!!int x` fail in many ways
            self.problem(path, f"cannot read {node.value!r} as {node.tag.rsplit(':', 1)[-1]}: {error}", node)
            return None

    def mapping(self, node: MappingNode, path: Key, inside: frozenset[int]) -> dict[str, Any]:
        own = {id(k) for k, _ in node.value}
        try:
            self.loader.flatten_mapping(node)  # applies `<<:` merge keys, merged pairs first
        except yaml.YAMLError as error:
            self.problem(path, f"bad merge key: {getattr(error, 'problem', error)}", node)
            return {}
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(path, "a key must be a plain name, not a list or mapping", key_node)
                continue
            # Keys are taken as written: `no:` or `1:` stay text instead of becoming False or 1.
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in first_line and id(key_node) in own and first_line[key] > 0:
                self.problem((*path, key), f"duplicate key (first at line {first_line[key]})", key_node)
                continue
            # A key written here overrides one merged in; merged keys never count as duplicates.
            first_line[key] = line if id(key_node) in own else -line
            self.doc.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key), inside)
        return result
