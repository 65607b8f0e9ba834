"""Paragraphs, items and pleasantries in a person's own lines, shared by the feedback, notes and topic readers."""

from __future__ import annotations

import re
from collections.abc import Iterable

_BULLET = re.compile(r"^\s*(?:[-*•·–—◦▪‣]|\d{1,2}[.)]|\(\d{1,2}\)|\[[ xX]?\])\s+(?P<rest>\S.*)$")
_PLEASANTRY = re.compile(
    r"^(?:thanks|thank you|thx|many thanks|cheers|see you[\w ,]{0,30}|talk soon|looking forward[\w ,]{0,40}|"
    r"have a (?:good|great|nice) [\w ]{1,20}|danke|vielen dank|bis (?:bald|dann|morgen|nächste woche)|merci|"
    r"merci beaucoup|à bientôt|a bientot|gracias|muchas gracias|hasta pronto|nos vemos[\w ,]{0,30}|obrigad[oa]|"
    r"muito obrigad[oa]|até logo|ate logo|até breve)[\s,.!:)]*(?:[A-ZÀ-Þ][\w'.-]*[\s,.!]*)?$",
    re.IGNORECASE)
_GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon)|hallo|liebe[rs]?|guten (?:tag|morgen)|moin|bonjour|salut|"
    r"coucou|chère|cher|hola|buenos días|buenas|estimad[oa]|olá|ola|oi|bom dia|boa tarde|prezad[oa])\b.{0,40}$",
    re.IGNORECASE)
_SOFT_WRAP = 60  # a line at least this long that ends mid-sentence was probably wrapped by the client


def paragraphs(lines: Iterable[str]) -> list[list[str]]:
    """Non-blank lines grouped by the blank lines between them."""
    groups: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            groups[-1].append(line.strip())
        elif groups[-1]:
            groups.append([])
    return [group for group in groups if group]


def logical_lines(paragraph: list[str]) -> list[str]:
    """A paragraph's lines with client-wrapped continuations joined back: one item a line, as people type them."""
    items: list[str] = []
    for line in paragraph:
        if items and _continues(items[-1], line):
            items[-1] = f"{items[-1]} {line}"
        else:
            items.append(line)
    return items


def _continues(previous: str, line: str) -> bool:
    if bullet(line) is not None:
        return False
    if line[:1].islower():
        return True
    return len(previous) >= _SOFT_WRAP and not previous.rstrip().endswith((".", "!", "?", ":", ";"))


def bullet(line: str) -> str | None:
    """The text of a bullet or numbered line ("- x", "* x", "• x", "1. x", "2) x"), else None."""
    match = _BULLET.match(line)
    return match.group("rest").strip() if match else None


def is_greeting(line: str) -> bool:
    """"Hi Maria," and its translations: an opening, not an answer or a topic."""
    return bool(_GREETING.match(line.strip()))


def is_pleasantry(line: str) -> bool:
    """Thanks, see-you and the like: said to be polite, not an answer or a topic."""
    return len(line) <= 60 and bool(_PLEASANTRY.match(line.strip()))


def one_line(text: str, limit: int) -> str:
    """Whitespace collapsed and cut to `limit` characters."""
    return " ".join(text.split())[:limit].rstrip()
