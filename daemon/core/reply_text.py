"""Reading what a person wrote in a reply: the new text, a rating, coach notes."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from typing import Any

_QUOTE_HEADER = re.compile(
    r"^(On .+ wrote:|Le .+ a écrit ?:|Am .+ schrieb .+:|El .+ escribió:|-{2,} ?Original Message ?-{2,}|"
    r"From: .+|De ?: .+|Von: .+|_{10,})\s*$", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(-- ?|Sent from my .+|Envoyé de mon .+)$")
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_RATING = re.compile(r"(?<![\d.])([1-5])(?:\s*/\s*5)?(?![\d.])")
_STARS = re.compile(r"^\s*(\*{1,5}|★{1,5})\s*$", re.MULTILINE)
_ACTION = re.compile(r"^[-*•]?\s*(?P<owner>[^:]{1,60}):\s*(?P<text>.+?)(?:\s+(?:by|due)\s+(?P<due>\d{4}-\d{2}-\d{2}))?\s*$")


def body_text(message: EmailMessage) -> str:
    """The plain text of a message, from its text part or, failing that, its HTML made plain."""
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return _decoded(part)
    part = message.get_body(preferencelist=("html",))
    if part is None:
        return ""
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", _decoded(part))
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _decoded(part: EmailMessage) -> str:
    """A text part's content; an unknown or lying charset falls back to UTF-8 with replacements."""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError, ValueError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload or "")


def new_text(text: str) -> str:
    """Drop quoted history and signatures: what the person wrote this time."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_HEADER.match(line.strip()) or _SIGNATURE.match(line.rstrip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def rating(text: str) -> int | None:
    """A 1-5 rating written as 4, 4/5, four or ****; the first one found wins."""
    stars = _STARS.search(text)
    if stars:
        return len(stars.group(1))
    for line in text.splitlines():
        lowered = line.lower()
        for word, value in _WORDS.items():
            if re.search(rf"\b{word}\b", lowered):
                return value
        match = _RATING.search(line)
        if match:
            return int(match.group(1))
    return None


def coach_notes(text: str) -> dict[str, Any]:
    """Conclusions and action items in the forgiving format the notes request explains."""
    conclusions: list[str] = []
    actions: list[dict[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        heading = line.rstrip(":").lower()
        if heading in ("conclusions", "conclusion"):
            section = "conclusions"
            continue
        if heading in ("actions", "action items", "action"):
            section = "actions"
            continue
        if not line:
            continue
        if section == "conclusions":
            conclusions.append(line.lstrip("-*• ").strip())
        elif section == "actions":
            match = _ACTION.match(line)
            if match:
                actions.append({"owner": match.group("owner").strip(), "text": match.group("text").strip(),
                                "due": match.group("due") or ""})
            else:
                actions.append({"owner": "", "text": line.lstrip("-*• "), "due": ""})
    return {"conclusions": conclusions, "actions": actions}
