"""The kinds of email coachd sends, and what each kind is: the one place they are known.

A kind's value is its name on the wire: the X-Coachd-Kind header, the template folder under
templates/email/, the `kind` of outbox and reply rows and of actions.jsonl. MailKind is a str, so a
value read back from the store compares equal to its member.
"""

from __future__ import annotations

from enum import StrEnum


class MailKind(StrEnum):
    """One kind of email; its value is the X-Coachd-Kind header and the template folder."""

    INVITATION = "invitation"
    UPDATE = "update"
    CANCELLATION = "cancellation"
    AGENDA = "agenda"
    NOTES_REQUEST = "notes-request"
    SUMMARY = "summary"
    FEEDBACK_REQUEST = "feedback-request"
    FEEDBACK_REMINDER = "feedback-reminder"
    GOAL_CHECK_IN = "goal-check-in"
    CHECK_IN = "check-in"
    DIGEST = "digest"
    REVIEW = "review"
    # Two emails share this kind: the participants' survey after their team's wrap-up session, and
    # the sponsors' final report on the whole program (about no session; see expects_answer).
    WRAP_UP = "wrap-up"


# Invitation mail: the series travels with it as an iTIP REQUEST or CANCEL.
ITIP_KINDS = frozenset({MailKind.INVITATION, MailKind.UPDATE, MailKind.CANCELLATION})
# The requests whose answers are feedback on a session (a reminder asks the same question again),
# and the coach's notes on one.
FEEDBACK_KINDS = frozenset({MailKind.FEEDBACK_REQUEST, MailKind.FEEDBACK_REMINDER})
NOTES_KINDS = frozenset({MailKind.NOTES_REQUEST})
# The agenda asks for topics: the answers to the last one are the next agenda's.
AGENDA_KINDS = frozenset({MailKind.AGENDA})
# The kinds that ask for an answer, and so carry a reply token (the final report excepted).
EXPECTS_ANSWER = frozenset({MailKind.NOTES_REQUEST, MailKind.FEEDBACK_REQUEST, MailKind.FEEDBACK_REMINDER,
                            MailKind.GOAL_CHECK_IN, MailKind.CHECK_IN, MailKind.AGENDA, MailKind.WRAP_UP})
# The kinds whose answer carries a 1-5 self-assessment on a line of its own.
SELF_RATED_KINDS = frozenset({MailKind.GOAL_CHECK_IN, MailKind.WRAP_UP})
# Program figures for sponsors.
SPONSOR_KINDS = frozenset({MailKind.DIGEST, MailKind.REVIEW, MailKind.WRAP_UP})
# Mail about one session of a series; the others are about the program (the review pack and, with a
# session, the wrap-up survey are about one session too).
SESSION_KINDS = frozenset({MailKind.INVITATION, MailKind.UPDATE, MailKind.CANCELLATION, MailKind.AGENDA,
                           MailKind.NOTES_REQUEST, MailKind.SUMMARY, MailKind.FEEDBACK_REQUEST,
                           MailKind.FEEDBACK_REMINDER, MailKind.CHECK_IN})


def expects_answer(kind: str, session_id: str | None) -> bool:
    """Whether the email of `kind` about `session_id` asks for a reply (and so carries a reply token).

    A wrap-up about a session is the participants' survey, which asks; the sponsors' final report is
    about the whole program (no session) and asks nothing.
    """
    return kind in EXPECTS_ANSWER and not is_final_report(kind, session_id)


def is_final_report(kind: str, session_id: str | None) -> bool:
    """Whether a wrap-up is the sponsors' final report on the whole program rather than a participant's
    survey after their team's wrap-up session: the report is about no session."""
    return kind == MailKind.WRAP_UP and session_id is None


_VALUES = frozenset(kind.value for kind in MailKind)


def is_mail_kind(value: str) -> bool:
    """Whether `value` names a kind (a template folder, a kind given on the command line)."""
    return value in _VALUES
