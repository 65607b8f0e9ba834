"""The end-of-program wrap-up survey: its questions, and what its answers may tell sponsors.

Sponsors get counts, an average over at least MIN_GROUP people, and themes: words that at least
MIN_GROUP different people used. A theme can never be traced to one person, and no answer is
ever quoted.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

from coachd.config import ProgramConfig
from coachd.model.observed import Observed, latest_answers
from coachd.plan.planner import survey_takers
from coachd.reporting.privacy import MIN_GROUP
from coachd.model.types import SessionKind
from coachd.model.mail_kinds import MailKind

WRAP_UP_QUESTIONS = (
    "What worked for you in the program?",
    "What did not work?",
    "What did you learn?",
    "What will you change in how you sell or lead?",
)
MAX_THEMES = 8
_WORD = re.compile(r"[^\W\d_]{4,}")
# Words that say nothing about the program in any of the languages replies come in.
_STOP = frozenset("""
that this with have from they what will would could should about there their them then than when which
were been being into more most much very also just like some only other over such your yours mine ours
well really think thanks thank because while where after before again still even each every make made
worked work learn learned learnt change changes program programme coaching coach session sessions
dass nicht eine einer einen sich auch oder aber wenn noch mehr sehr mein meine wird habe haben sind
pour avec dans plus mais être avoir cette sont nous vous elle très aussi
para como pero más muy esta este esto tengo tiene sido com mais muito isso essa esse
""".split())


def survey_summary(cfg: ProgramConfig, observed: Observed, now: datetime) -> dict[str, Any]:
    """Asked, answered, the average overall rating (suppressed under MIN_GROUP) and shared themes."""
    participants = {p.id for p in cfg.coachees()} | {p.id for p in cfg.coaches()}
    after = cfg.mail.feedback.after
    asked: set[str] = set()
    for booking in observed.bookings.values():
        spec = booking.series.spec
        if spec.kind is not SessionKind.WRAPUP:
            continue
        for occurrence in booking.series.occurrences():
            if not occurrence.cancelled and occurrence.end + after <= now:
                asked |= {a.person_id for a in survey_takers(spec)}
    answers = [r for r in latest_answers(observed.replies)
               if r.request_kind == MailKind.WRAP_UP and r.person_id in participants]
    by_person = {r.person_id: r for r in answers}  # the latest answer of each person
    ratings = [r.rating for r in by_person.values() if r.rating is not None]
    suppressed = len(ratings) < MIN_GROUP
    return {
        "asked": len(asked), "answered": len(by_person),
        "average_rating": None if suppressed else round(sum(ratings) / len(ratings), 2),
        "suppressed": suppressed and bool(ratings),
        "themes": themes({person: str(r.payload.get("text", "")) for person, r in by_person.items()}),
    }


def themes(texts: dict[str, str]) -> list[dict[str, Any]]:
    """Words at least MIN_GROUP people used, most shared first: [{"word", "people"}]."""
    people: Counter[str] = Counter()
    for text in texts.values():
        people.update({w.lower() for w in _WORD.findall(text)} - _STOP)
    shared = [(word, count) for word, count in people.items() if count >= MIN_GROUP]
    shared.sort(key=lambda item: (-item[1], item[0]))
    return [{"word": word, "people": count} for word, count in shared[:MAX_THEMES]]
