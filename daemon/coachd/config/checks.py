"""Checks across fields and on disk, run on the raw data so they report even when parts are malformed."""

from __future__ import annotations

import re
from pathlib import Path
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from dateutil.rrule import rrulestr
from icalendar import Calendar

from coachd.config.values import is_slug, suggest
from coachd.config.yamltree import Key

Found = tuple[Key, str]
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def _list(data: Any, *keys: str) -> list[Any]:
    """data[k1][k2]... if it is a list, else [] (a wrong shape is the model's problem to report)."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, list) else []


def _text(item: Any, key: str) -> str | None:
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def reference_problems(data: Any) -> list[Found]:
    """Duplicate ids and emails, unknown person ids, coaches and members that do not fit."""
    people = _list(data, "people")
    found = _duplicates(people, "people", "person")
    found += _duplicates(_list(data, "teams"), "teams", "team")
    found += _duplicate_emails(people)
    known = [i for p in people if (i := _text(p, "id")) is not None]

    def unknown(path: Key, value: Any) -> None:
        # Ids that are not even well-formed already have a problem from the model.
        if is_slug(value) and value not in known:
            found.append((path, f"unknown person '{value}'{suggest(value, known)}"))

    member_of: dict[str, tuple[int, str]] = {}
    for t, team in enumerate(_list(data, "teams")):
        coach = team.get("coach") if isinstance(team, dict) else None
        unknown(("teams", t, "coach"), coach)
        seen: set[str] = set()
        for m, member in enumerate(_list(team, "members")):
            path: Key = ("teams", t, "members", m)
            unknown(path, member)
            if not isinstance(member, str):
                continue
            if member == coach:
                found.append((path, f"'{member}' coaches this team and cannot also be one of its members"))
            elif member in seen:
                found.append((path, f"'{member}' is listed twice"))
            elif member in member_of:
                other, name = member_of[member]
                found.append((path, f"'{member}' is already a member of team '{name}' (teams[{other}])"))
            seen.add(member)
            member_of.setdefault(member, (t, _text(team, "id") or "?"))
    for s, sponsor in enumerate(_list(data, "sponsors")):
        unknown(("sponsors", s), sponsor)
    for r, recipient in enumerate(_list(data, "digest", "to")):
        unknown(("digest", "to", r), recipient)
    return found


def _duplicates(items: list[Any], section: str, what: str) -> list[Found]:
    first: dict[str, int] = {}
    found: list[Found] = []
    for index, item in enumerate(items):
        ident = _text(item, "id")
        if ident is None:
            continue
        if ident in first:
            found.append(((section, index, "id"), f"duplicate {what} id '{ident}' (also {section}[{first[ident]}])"))
        else:
            first[ident] = index
    return found


def _duplicate_emails(people: list[Any]) -> list[Found]:
    # Replies are matched to people by address, so one address must mean one person.
    owner: dict[str, int] = {}
    found: list[Found] = []
    for index, person in enumerate(people):
        addresses: list[tuple[Key, Any]] = [(("people", index, "email"), _text(person, "email"))]
        addresses += [(("people", index, "aliases", a), v) for a, v in enumerate(_list(person, "aliases"))]
        for path, address in addresses:
            if not isinstance(address, str):
                continue
            key = address.strip().lower()
            if key in owner:
                found.append((path, f"email '{address}' is already used by people[{owner[key]}]"))
            else:
                owner[key] = index
    return found


def file_problems(data: Any, base_dir: Path) -> list[Found]:
    """What makes the config itself unusable: a busy URL that is not one (the admin's typo), a templates
    folder that is not there. A busy *file* that cannot be read is only a warning (`busy_warnings`): the
    daemon runs for everyone else and waits for that person's busy times."""
    found: list[Found] = []
    for index, person in enumerate(_list(data, "people")):
        busy = _text(person, "busy")
        if busy is not None:
            message = busy_url_problem(busy)
            if message:
                found.append((("people", index, "busy"), message))
    templates = data.get("templates") if isinstance(data, dict) else None
    folder = _text(templates, "folder")
    if folder is not None and not (base_dir / Path(folder).expanduser()).is_dir():
        found.append((("templates", "folder"), f"folder not found: {folder} (looked for {base_dir / folder})"))
    return found


def busy_warnings(data: Any, base_dir: Path) -> list[Found]:
    """Busy files that cannot be read now: missing, not a file, not UTF-8, not iCalendar, a rule that
    cannot be expanded. `coachd check` shows them as warnings; `coachd run` starts anyway and books
    nothing over that person until their busy times are read (docs/architecture.md, "Unknown busy times")."""
    found: list[Found] = []
    for index, person in enumerate(_list(data, "people")):
        busy = _text(person, "busy")
        if busy is not None and not busy_url_problem(busy) and not _SCHEME.match(busy):
            message = busy_file_problem(busy, base_dir)
            if message:
                found.append((("people", index, "busy"), message))
    return found


def busy_problem(busy: str, base_dir: Path) -> str | None:
    """Why a `busy:` value cannot be used, or None. URLs are only checked for form: check never fetches."""
    if _SCHEME.match(busy):
        return busy_url_problem(busy)
    return busy_file_problem(busy, base_dir)


def busy_url_problem(busy: str) -> str | None:
    """Why a `busy:` URL is not one coachd can fetch (None for a file path or a good URL)."""
    scheme = _SCHEME.match(busy)
    if not scheme:
        return None
    name = scheme.group(1).lower()
    if name not in ("http", "https"):
        return f"only http(s) URLs can be fetched, got a {name}:// URL"
    try:
        host = urlsplit(busy).hostname
    except ValueError as error:
        return f"not a valid URL: {error}"
    return None if host else f"not a valid URL (no host): {busy}"


def busy_file_problem(busy: str, base_dir: Path) -> str | None:
    """Why the busy file `busy` cannot be read now, naming the line at fault where there is one; or None."""
    path = base_dir / Path(busy).expanduser()
    if not path.exists():
        return f"file not found: {busy} (looked for {path})"
    if not path.is_file():
        return f"{busy} is not a file"
    try:
        raw = path.read_bytes()
    except OSError as error:
        return f"cannot read {busy}: {error.strerror or error}"
    return _ical_problem(busy, raw)


def _ical_problem(name: str, raw: bytes) -> str | None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        # RFC 5545 calendars are UTF-8; a Latin-1 export reads as garbled text, and is worth fixing.
        line = raw.count(b"\n", 0, error.start) + 1
        return f"{name} line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x}); iCalendar files are UTF-8"
    try:
        calendar = Calendar.from_ical(raw)
    except Exception as error:  # icalendar raises ValueError and, on odd input, others
        return f"{name} is not a valid iCalendar file: {_first_line(error)}"
    if getattr(calendar, "name", None) != "VCALENDAR":
        return f"{name} is not a valid iCalendar file: it holds no VCALENDAR"
    for component in calendar.walk():
        for prop, error in getattr(component, "errors", []):
            return f"{name} is not a valid iCalendar file: {component.name} {prop}: {error}"
    for component in calendar.walk("VEVENT"):
        problem = _rule_problem(component)
        if problem:
            rule, message = problem
            line = _line_of(raw, rule)
            where = f" line {line}" if line else ""
            return f"{name}{where}: RRULE {rule} cannot be expanded: {message}"
    return None


def _rule_problem(event: Any) -> tuple[str, str] | None:
    """(the rule, why) when dateutil, which expands busy calendars, refuses an event's RRULE
    (a BYSETPOS out of range, say). Building the rule checks it without expanding anything."""
    rules = event.get("RRULE")
    start = event.get("DTSTART")
    if rules is None or start is None:
        return None
    for rule in rules if isinstance(rules, list) else [rules]:
        text = rule.to_ical().decode("utf-8", "replace")
        # Naive and ignoring zones: a rule's zone never makes it invalid, its parts can.
        begin = start.dt if isinstance(start.dt, datetime) else datetime.combine(start.dt, datetime.min.time())
        try:
            rrulestr(text, dtstart=begin.replace(tzinfo=None), ignoretz=True)
        except Exception as error:  # noqa: BLE001 - dateutil raises ValueError and others for a bad rule
            return text, _first_line(error)
    return None


def _line_of(raw: bytes, rule: str) -> int | None:
    """The line of the RRULE `rule` in the file (1-based), for an admin to find it; its parts may be
    written in another order than icalendar gives them back."""
    parts = {part.upper() for part in rule.split(";")}
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        name, _, value = line.partition(":")
        if name.upper().split(";")[0] == "RRULE" and {part.upper() for part in value.split(";")} == parts:
            return number
    return None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
