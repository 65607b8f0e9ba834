"""What an agenda says: the up-front contract, accountability questions and focus, per kind of session."""

from __future__ import annotations

import re

from coachd.model.types import SessionKind

# Purpose, reason, importance: the three parts of the up-front contract (seed article 003).
CONTRACTS: dict[SessionKind, tuple[str, str, str]] = {
    SessionKind.KICKOFF: (
        "Start the program together: agree goals, cadence and how we will work.",
        "Coaching works when everyone knows what we are aiming at and what to expect from each session.",
        "The goals agreed today are the ones the sponsor will review at each quarter.",
    ),
    SessionKind.GROUP: (
        "Review progress on the team's goals and work through live deals together.",
        "Shared lessons from real opportunities spread good practice across the team.",
        "Weekly rhythm is what turns intentions into habits and results.",
    ),
    SessionKind.INDIVIDUAL: (
        "A private one-to-one on your goals, your commitments and what is in your way.",
        "Some topics need a safe space and undivided attention.",
        "This is where your plan of action is refined and you are held accountable to it.",
    ),
    SessionKind.CIRCLE: (
        "Coaches compare notes on what works, and coach each other.",
        "Coaches are coached too: the circle keeps the practice honest and improving.",
        "Consistent coaching across teams makes the program's results comparable and fair.",
    ),
    SessionKind.SPONSOR_REVIEW: (
        "Review the program's participation, outcomes against the agreed goals, and what comes next.",
        "The sponsor funds the program and steers it.",
        "Executive sponsorship keeps the program a priority up and down the organisation.",
    ),
    SessionKind.WRAPUP: (
        "Close the program: results against the goals, what we learned, what each of us will change.",
        "A formal wrap-up turns a year of sessions into lessons that last.",
        "What we agree today is what carries on after the program ends.",
    ),
}

DEFAULT_QUESTIONS: tuple[str, ...] = (
    "What did you commit to last time, and did you do it?",
    "What got in the way, and what will you do differently?",
    "Which opportunity would most change your quarter if it moved this week?",
    "What is the next concrete step, and when will it be done?",
    "Where do you need support from the team or from me?",
    "What did you try for the first time since we last met?",
    "What would you do if you were sure you could not fail?",
)


# Questions about a session before this one: never asked at someone's first session.
_LOOKS_BACK = re.compile(r"\blast (?:time|session|week|meeting)\b|\bsince (?:we|our) last\b|\bprevious session\b",
                         re.IGNORECASE)


def looks_back(question: str) -> bool:
    """Whether a question asks about what happened since an earlier session."""
    return question in _DEFAULTS_LOOKING_BACK or bool(_LOOKS_BACK.search(question))


# Of the bank's own questions, those about a commitment made before.
_DEFAULTS_LOOKING_BACK = frozenset({DEFAULT_QUESTIONS[0], DEFAULT_QUESTIONS[1], DEFAULT_QUESTIONS[5]})


def questions_for(index: int, bank: tuple[str, ...] = DEFAULT_QUESTIONS, count: int = 3) -> list[str]:
    """Rotate through the bank so consecutive sessions ask different questions."""
    if not bank:
        return []
    start = (index * count) % len(bank)
    return [bank[(start + i) % len(bank)] for i in range(min(count, len(bank)))]


def focus_for(index: int) -> str:
    """Alternate strategic and tactical focus from one session to the next."""
    return "strategic" if index % 2 == 0 else "tactical"


FEEDBACK_QUESTIONS: tuple[str, ...] = (
    "What worked well?",
    "What should we do more of, or less of?",
    "Were your expectations met?",
)
