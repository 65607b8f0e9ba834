"""The reply corpus: real-looking replies from each mail client and language, with their expected reading.

Each tests/replies/<name>.eml has a sibling <name>.json written by reading the email as a person
would: {"kind": "feedback"|"notes"|"topics"|"itip", "new_text": ..., plus the kind's fields}.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from coachd.replies import reading as reply_text

CORPUS = Path(__file__).parents[1] / "replies"
EXPECTED = sorted(CORPUS.glob("*.json"))


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _load(expected: Path) -> tuple[EmailMessage, dict[str, Any]]:
    raw = expected.with_suffix(".eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message, json.loads(expected.read_text(encoding="utf-8"))


def test_the_corpus_is_big_enough_and_complete() -> None:
    assert len(EXPECTED) >= 40
    assert {p.stem for p in CORPUS.glob("*.eml")} == {p.stem for p in EXPECTED}
    kinds = {json.loads(p.read_text(encoding="utf-8"))["kind"] for p in EXPECTED}
    assert kinds == {"feedback", "notes", "topics", "itip"}


@pytest.mark.parametrize("expected", EXPECTED, ids=[p.stem for p in EXPECTED])
def test_reply_reads_as_a_person_would(expected: Path) -> None:
    message, want = _load(expected)
    body = reply_text.body_text(message)
    fresh = reply_text.new_text(body)
    assert _squeeze(fresh) == _squeeze(want["new_text"])
    kind = want["kind"]
    if kind == "feedback":
        got = reply_text.feedback(body)
        assert got["rating"] == want["rating"]
        assert reply_text.rating(fresh) == want["rating"]  # what the inbox stores today, from the new text
        squeezed = {k: _squeeze(v) for k, v in got["answers"].items()}
        assert squeezed == {k: _squeeze(v) for k, v in want["answers"].items()}
        assert (_squeeze(got["repeat"]), _squeeze(got["avoid"])) == (_squeeze(want["repeat"]), _squeeze(want["avoid"]))
    elif kind == "notes":
        today = date.fromisoformat(want["today"]) if want.get("today") else None
        got = reply_text.coach_notes(fresh, today=today)
        assert got["conclusions"] == want["conclusions"]
        assert got["actions"] == want["actions"]
        assert _squeeze(got["notes"]) == _squeeze(want["notes"])
    elif kind == "topics":
        assert reply_text.topics(fresh) == want["topics"]
    else:
        assert reply_text.itip_reply(message) == want["itip"]


def _alternative_html(message: EmailMessage) -> EmailMessage | None:
    """The HTML half of a message that also has a text/plain part, as an HTML-only message of its own."""
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    if "text/plain" not in parts or "text/html" not in parts or "text/calendar" in parts:
        return None
    html = parts["text/html"]
    only = email.message_from_bytes(html.as_bytes(), policy=email.policy.default)
    assert isinstance(only, EmailMessage)
    return only


WITH_HTML = [p for p in EXPECTED if _alternative_html(_load(p)[0]) is not None]


@pytest.mark.parametrize("expected", WITH_HTML, ids=[p.stem for p in WITH_HTML])
def test_the_html_half_reads_the_same(expected: Path) -> None:
    """Clients send the same reply twice; read from its HTML alone, it must say the same thing."""
    message, want = _load(expected)
    html_only = _alternative_html(message)
    assert html_only is not None
    assert _squeeze(reply_text.new_text(reply_text.body_text(html_only))) == _squeeze(want["new_text"])
