"""Due dates written in action items: "by 2027-02-01", "(2027-02-01)", "by 1 Feb 2027", "by Feb 1", "bis 01.02.2027"."""

from __future__ import annotations

import re
from datetime import date, timedelta

_MONTHS = {
    # en, de, fr, es, pt; full names and the usual abbreviations
    "jan": 1, "january": 1, "januar": 1, "jänner": 1, "janvier": 1, "janv": 1, "enero": 1, "ene": 1, "janeiro": 1,
    "feb": 2, "february": 2, "februar": 2, "février": 2, "fevrier": 2, "févr": 2, "fev": 2, "fév": 2,
    "febrero": 2, "fevereiro": 2,
    "mar": 3, "march": 3, "märz": 3, "maerz": 3, "mars": 3, "marzo": 3, "março": 3, "marco": 3, "mär": 3,
    "apr": 4, "april": 4, "avril": 4, "avr": 4, "abril": 4, "abr": 4,
    "may": 5, "mai": 5, "mayo": 5, "maio": 5,
    "jun": 6, "june": 6, "juni": 6, "juin": 6, "junio": 6, "junho": 6,
    "jul": 7, "july": 7, "juli": 7, "juillet": 7, "juil": 7, "julio": 7, "julho": 7,
    "aug": 8, "august": 8, "août": 8, "aout": 8, "agosto": 8, "ago": 8,
    "sep": 9, "sept": 9, "september": 9, "septembre": 9, "septiembre": 9, "setembro": 9, "set": 9,
    "oct": 10, "october": 10, "oktober": 10, "okt": 10, "octobre": 10, "octubre": 10, "outubro": 10, "out": 10,
    "nov": 11, "november": 11, "novembre": 11, "noviembre": 11, "novembro": 11,
    "dec": 12, "december": 12, "dezember": 12, "dez": 12, "décembre": 12, "decembre": 12, "déc": 12,
    "diciembre": 12, "dic": 12, "dezembro": 12,
}
_MONTH_NAMES = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))


def _date_pattern() -> str:
    """ISO, day-month(-year), month-day(-year) and dotted day.month.(year), each with its own group names."""
    day = r"(?P<day_{0}>\d{{1,2}})(?:st|nd|rd|th|er|º|°|\.)?"
    month = rf"(?P<month_{{0}}>{_MONTH_NAMES})\.?"
    year = r"(?:,?\s*(?:de\s+)?(?P<year_{0}>\d{{4}}))?"
    return (r"(?P<iso>\d{4}-\d{2}-\d{2})"
            rf"|{day.format('dmy')}\s*(?:de\s+)?{month.format('dmy')}{year.format('dmy')}"
            rf"|{month.format('mdy')}\s*{day.format('mdy')}{year.format('mdy')}"
            r"|(?P<day_dot>\d{1,2})\.(?P<month_dot>\d{1,2})\.(?P<year_dot>\d{4}|\d{2})?")


_CUE = (r"(?:by|due(?:\s+(?:on|by))?:?|before|until|no later than|bis(?:\s+zum|\s+am)?|fällig(?:\s+am)?|"
        r"avant(?:\s+le)?|pour\s+le|d'ici\s+le|le|para\s+el|antes\s+del?|hasta\s+el|até|ate|para|em)")
# A cue then a date ("by Feb 1"), or a date in parentheses with or without a cue ("(due 2027-02-01)").
_DUE = re.compile(
    rf"(?P<open>\s*\(\s*(?:{_CUE}\s+)?|[\s,;]*(?<!\w){_CUE}\s+)(?:{_date_pattern()})(?P<close>\s*\))?(?!\w)",
    re.IGNORECASE)
# An ISO date closing the line is a due date too: "Ana: send the proposal 2027-02-01".
_TAIL = re.compile(r"[\s,;–—-]*(?<![\w-])(?P<iso>\d{4}-\d{2}-\d{2})\s*$")


def due_date(text: str, today: date | None) -> tuple[str, str]:
    """(text without the due phrase, "YYYY-MM-DD"), or (text, "") when there is none or it cannot be resolved."""
    for match in [*_DUE.finditer(text), *_TAIL.finditer(text)]:
        if "(" in (match.groupdict().get("open") or "") and not match.groupdict().get("close"):
            continue
        when = _resolve(match, today)
        if when is not None:
            rest = (text[:match.start()] + text[match.end():]).strip(" ,;–—-")
            return " ".join(rest.split()), when.isoformat()
    return text, ""


def _resolve(match: re.Match[str], today: date | None) -> date | None:
    groups = match.groupdict()
    try:
        if groups.get("iso"):
            return date.fromisoformat(groups["iso"])
        if groups.get("day_dot"):
            year = groups.get("year_dot")
            full = None if year is None else int(year) + (2000 if len(year) == 2 else 0)
            return _dated(full, int(groups["month_dot"]), int(groups["day_dot"]), today)
        for form in ("dmy", "mdy"):
            if groups.get(f"day_{form}"):
                year = groups.get(f"year_{form}")
                month = _MONTHS[groups[f"month_{form}"].lower()]
                return _dated(None if year is None else int(year), month, int(groups[f"day_{form}"]), today)
    except (ValueError, KeyError):  # 2027-02-30, 31 April, a month spelled in another case
        return None
    return None


def _dated(year: int | None, month: int, day: int, today: date | None) -> date | None:
    if year is not None:
        return date(year, month, day)
    if today is None:
        return None
    # A date without a year is the next one from today, allowing a month back for a slightly late note.
    for candidate_year in (today.year, today.year + 1):
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:  # 29 February
            continue
        if candidate >= today - timedelta(days=31):
            return candidate
    return None
