"""Confidentiality, proven on a simulated program: every email's recipients against its content.

A one-to-one's agenda, notes and summary go to its coach and coachee only; a group's mail to that team
only; nothing from a one-to-one reaches a sponsor.
"""

from __future__ import annotations

import email.utils
import re
from datetime import timedelta
from email.utils import getaddresses

import pytest

from coachd.config import load_config
from tests.support.simulation import EXAMPLE, read_mail, reply_to, simulate

SECRET_NOTE = "confidential-pipeline-worry-7731"
SECRET_FEEDBACK = "private-feedback-about-my-manager-4417"


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    base = tmp_path_factory.mktemp("confidential")
    first = base / "first"
    simulate("--until", "2027-01-25", "--out", str(first))
    messages = read_mail(first)
    notes = next(m for m in messages if m["X-Coachd-Kind"] == "notes-request" and "individual" in str(m["X-Coachd-Series"]))
    feedback = next(m for m in messages if m["X-Coachd-Kind"] == "feedback-request"
                    and "individual" in str(m["X-Coachd-Series"]))
    replies = base / "replies"
    replies.mkdir()
    at = email.utils.parsedate_to_datetime
    (replies / "notes.eml").write_bytes(reply_to(
        notes, f"Conclusions:\n- {SECRET_NOTE}\nActions:\n- Coachee: call the CFO by 2027-02-05\n",
        at(str(notes["Date"])) + timedelta(minutes=30)))
    (replies / "feedback.eml").write_bytes(reply_to(
        feedback, f"4/5 {SECRET_FEEDBACK}", at(str(feedback["Date"])) + timedelta(hours=2)))
    out = base / "out"
    simulate("--until", "2027-03-08", "--out", str(out), "--replies", str(replies))
    return load_config(EXAMPLE), read_mail(out), str(notes["X-Coachd-Session"]), str(feedback["X-Coachd-Session"])


def recipients(message) -> set[str]:
    return {address.lower() for _, address in getaddresses(
        [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])])}


def text_of(message) -> str:
    return "\n".join(str(part.get_content()) for part in message.walk()
                     if part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html"))


def test_one_to_one_mail_goes_to_its_coach_and_coachee_only(program):
    cfg, messages, _, _ = program
    individual = [m for m in messages if "-individual-" in str(m["X-Coachd-Series"] or "")]
    assert len(individual) > 50
    for message in individual:
        coachee_id = re.search(r"-individual-([a-z]+)@", str(message["X-Coachd-Series"])).group(1)
        team = next(t for t in cfg.teams if coachee_id in t.members)
        allowed = {str(cfg.person(coachee_id).email).lower(), str(cfg.person(team.coach).email).lower()}
        assert recipients(message) <= allowed, (message["X-Coachd-Kind"], message["To"])


def test_group_mail_goes_to_that_team_only(program):
    cfg, messages, _, _ = program
    for message in messages:
        match = re.search(r"-group-([a-z]+)@", str(message["X-Coachd-Series"] or ""))
        if not match:
            continue
        team = cfg.team(match.group(1))
        allowed = {str(cfg.person(p).email).lower() for p in (team.coach, *team.members)}
        assert recipients(message) <= allowed, (message["X-Coachd-Kind"], message["To"])


def test_what_was_said_in_a_one_to_one_never_leaves_it(program):
    cfg, messages, notes_session, feedback_session = program
    sponsors = {str(cfg.person(p).email).lower() for p in cfg.sponsors}
    carried = [m for m in messages if SECRET_NOTE in text_of(m)]
    assert carried, "the coach's notes did reach the one-to-one's summary"
    for message in carried:
        assert message["X-Coachd-Session"] == notes_session, message["X-Coachd-Kind"]
    for message in messages:
        assert SECRET_FEEDBACK not in text_of(message), (message["X-Coachd-Kind"], message["To"])
        if recipients(message) & sponsors:
            body = text_of(message)
            # Counts of one-to-ones are fine; a one-to-one itself ("One-to-one: Ana Souza with ...") is not.
            assert SECRET_NOTE not in body and "One-to-one:" not in body, message["X-Coachd-Kind"]
    assert any(m["X-Coachd-Kind"] == "digest" for m in messages)
