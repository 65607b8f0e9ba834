"""What `coachd check` reports: a Problem per mistake, and the ConfigError that carries them all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PathPart = str | int


@dataclass(frozen=True)
class Problem:
    """One mistake in a config file, at a field path like `people[2].timezone`."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return text if self.line is None else f"{text} (line {self.line})"


class ConfigError(Exception):
    """A config file that cannot be used, with every problem found in it."""

    def __init__(self, file: Path, problems: list[Problem]) -> None:
        self.file = Path(file)
        self.problems = list(problems)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{self.file}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


def dotted(parts: Iterable[PathPart]) -> str:
    """('teams', 0, 'members', 1) -> 'teams[0].members[1]'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def ordered(problems: Iterable[Problem]) -> list[Problem]:
    """Without repeats, in file order; problems with no line (whole-file ones) first."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line is not None, p.line or 0))
