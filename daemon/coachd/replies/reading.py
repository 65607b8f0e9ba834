"""Reading what a person wrote in a reply: its text, the new part of it, a rating, notes, topics, responses."""

# Every function here is pure and never raises, whatever the message: body text is bounded, MIME
# trees are walked without recursion, and charsets that are missing, unknown or lying fall back to
# readable text. The work is done in the reply_* modules beside this one.

from __future__ import annotations

from datetime import date
from email.message import EmailMessage, Message
from typing import Any

from coachd.replies import mime as reply_mime
from coachd.replies.feedback import feedback as _feedback
from coachd.replies.html import html_to_text
from coachd.replies.itip import itip_reply
from coachd.replies.notes import coach_notes as _coach_notes
from coachd.replies.notes import topics as _topics
from coachd.replies.quotes import new_text as _new_text

__all__ = ["parse_message", "body_text", "new_text", "feedback", "rating", "coach_notes", "topics", "itip_reply"]


def parse_message(raw: bytes) -> EmailMessage:
    """Bytes as a message, like email.message_from_bytes but never raising, even on MIME nested 1,000 deep."""
    return reply_mime.parse(raw)


def body_text(message: Message) -> str:
    """The plain text of a message: its first text/plain body part or, failing that, its HTML made plain."""
    try:
        plain, markup = _body_parts(message)
        if plain is not None:
            text = plain.text()
            if text.strip():
                return reply_mime.unflow(text) if plain.params.get("format", "").lower() == "flowed" else text
        if markup is not None:
            return html_to_text(markup.text())[: reply_mime.MAX_TEXT]
    except Exception:  # the readers are written not to raise; this keeps the promise if one still does
        pass
    return ""


def _body_parts(message: Message) -> tuple[reply_mime.Leaf | None, reply_mime.Leaf | None]:
    """The first inline text/plain and text/html parts; attachments and forwarded messages are skipped."""
    plain = markup = None
    for leaf in reply_mime.walk(message):
        if leaf.attachment:
            continue
        if leaf.content_type == "text/plain" and plain is None:
            plain = leaf
        elif leaf.content_type == "text/html" and markup is None:
            markup = leaf
        if plain is not None and markup is not None:
            break
    return plain, markup


def new_text(text: str) -> str:
    """Drop quoted history and signatures: what the person wrote this time (inline answers kept)."""
    try:
        return _new_text(text)
    except Exception:  # the parsers are written not to raise; this keeps the inbox's promise if one does
        return text[: reply_mime.MAX_TEXT].strip()


def feedback(text: str) -> dict[str, Any]:
    """{"rating": 1-5 or None, "answers": {"1","2","3"}, "repeat", "avoid"} from a feedback reply's text."""
    try:
        return _feedback(text)
    except Exception:
        return {"rating": None, "answers": {"1": "", "2": "", "3": ""}, "repeat": "", "avoid": ""}


def rating(text: str) -> int | None:
    """A 1-5 self-assessment written as 4, 4/5, four, vier, ****, ★★★★☆ or 4 stars; a "Rating:" line wins.

    Stricter than a feedback reply's rating: the goal check-in and the wrap-up survey ask for the number on
    a line of its own under answers in prose, where "I'd give it a 4" or "2 - the CFO deal" is an answer.
    Whatever this finds, feedback() finds too.
    """
    try:
        return _feedback(text, prose=False)["rating"]  # type: ignore[no-any-return]
    except Exception:
        return None


def coach_notes(text: str, *, today: date | None = None) -> dict[str, Any]:
    """{"conclusions": [str], "actions": [{"owner", "text", "due"}], "notes": str} from a coach's notes."""
    try:
        return _coach_notes(text, today=today)
    except Exception:
        return {"conclusions": [], "actions": [], "notes": ""}


def topics(text: str) -> list[str]:
    """Up to five topics (each at most 200 characters) a coachee sent in for the next agenda."""
    try:
        return _topics(text)
    except Exception:
        return []
