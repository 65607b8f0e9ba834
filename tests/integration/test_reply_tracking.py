"""Reply tracking end to end on the embedded providers: signed reply addresses, matching, senders,
auto-replies, duplicates and hostile mail, each judged without holding up the others."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import os
import stat
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from coachd.runtime.clock import VirtualClock
from coachd.config import load_config
from coachd.mail import reply_token
from coachd.model.mail_kinds import expects_answer
from coachd.runtime.wiring import open_program
from coachd.store.models import Outbox, Reply
from tests.support.ticks import EXAMPLE, program_start, tick

FEEDBACK = "Rating: 4\n1. The role play on pricing\n2. More time on objections\n3. Yes\nRepeat: role plays\nAvoid: running late\n"


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


@pytest.fixture
def sent(tmp_path, cfg) -> list[EmailMessage]:
    """The program booked and its first week's mail sent; every email as it went out."""
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    tick(tmp_path, cfg, program_start(cfg) + timedelta(days=4))
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted((tmp_path / "mail").glob("*.eml"))]


def of_kind(sent: list[EmailMessage], kind: str) -> EmailMessage:
    return next(m for m in sent if m["X-Coachd-Kind"] == kind)


def address(message: EmailMessage, header: str) -> str:
    return email.utils.parseaddr(str(message[header]))[1]


def reply_to(request: EmailMessage, body: str, *, name: str, sender: str | None = None, to: str | None = None,
             references: bool = False, extra: str = "") -> bytes:
    """A plain reply as a mail client writes it: to the Reply-To address, quoting nothing."""
    headers = (f"From: {sender or address(request, 'To')}\r\nTo: {to or address(request, 'Reply-To')}\r\n"
               f"Subject: Re: {request['Subject']}\r\nMessage-ID: <{name}@client.example>\r\n"
               "Date: Fri, 08 Jan 2027 10:00:00 +0000\r\n")
    if references:
        headers += f"In-Reply-To: {request['Message-ID']}\r\nReferences: {request['Message-ID']}\r\n"
    return (headers + extra + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + body.replace("\n", "\r\n")).encode()


def deliver_and_read(state: Path, cfg, messages: dict[str, bytes], *, days: int = 4) -> dict[str, Reply]:
    now = program_start(cfg) + timedelta(days=days, minutes=10)
    program = open_program(cfg, state, VirtualClock(now))
    for name, raw in messages.items():
        program.inbox.deliver(raw, name)
    program.close()
    tick(state, cfg, now)
    program = open_program(cfg, state, VirtualClock(now))
    try:
        with program.store.session() as db:
            rows = list(db.scalars(select(Reply)))
            for row in rows:
                db.expunge(row)
    finally:
        program.close()
    return {row.message_id.strip("<>").split("@")[0]: row for row in rows}


def test_requests_carry_a_signed_reply_address_and_other_mail_none(tmp_path, sent, cfg):
    organizer = str(cfg.organizer.email)
    local, _, domain = organizer.partition("@")
    for message in sent:
        kind = message["X-Coachd-Kind"]
        if expects_answer(kind, message["X-Coachd-Session"]):
            token = reply_token.tokens_in([str(message["Reply-To"])])
            assert len(token) == 1 and address(message, "Reply-To") == f"{local}+r{token[0]}@{domain}"
        else:
            assert message["Reply-To"] is None, kind
    secret = tmp_path / reply_token.SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        with program.store.session() as db:
            tokens = dict(db.execute(select(Outbox.key, Outbox.reply_token)).all())
        assert all(reply_token.verify(program.reply_secret(), program.id, t) for t in tokens.values() if t)
    finally:
        program.close()
    assert len({t for t in tokens.values() if t}) == sum(1 for t in tokens.values() if t), "one token a request"


def test_a_reply_to_the_signed_address_is_matched_without_any_references(tmp_path, sent, cfg):
    request = of_kind(sent, "feedback-request")
    rows = deliver_and_read(tmp_path, cfg, {"fb": reply_to(request, FEEDBACK, name="fb")})
    row = rows["fb"]
    person = next(p for p in cfg.people if str(p.email) == address(request, "To"))
    assert (row.status, row.kind, row.person_id) == ("handled", "feedback-request", person.id)
    assert row.session_id == str(request["X-Coachd-Session"])
    assert row.rating == 4
    assert row.payload["repeat"] == "role plays" and row.payload["avoid"] == "running late"
    assert row.payload["answers"]["2"] == "More time on objections"
    assert cfg.people_by_id[row.person_id].email == address(request, "To")


def test_an_altered_or_foreign_token_is_rejected_even_with_good_references(tmp_path, sent, cfg):
    request = of_kind(sent, "feedback-request")
    genuine = address(request, "Reply-To")
    token = reply_token.tokens_in([genuine])[0]
    altered = genuine.replace(token, token[:-1] + ("a" if token[-1] != "a" else "b"))
    foreign = reply_token.reply_address(str(cfg.organizer.email),
                                        reply_token.token_for(b"another secret", cfg.program.id, "mail:x"))
    rows = deliver_and_read(tmp_path, cfg, {
        "altered": reply_to(request, FEEDBACK, name="altered", to=altered),
        "foreign": reply_to(request, FEEDBACK, name="foreign", to=foreign),
    })
    for name in ("altered", "foreign"):
        assert rows[name].status == "quarantined"
        assert "not one coachd made" in rows[name].reason
        assert rows[name].rating is None


def test_references_still_match_a_reply_whose_token_was_lost(tmp_path, sent, cfg):
    request = of_kind(sent, "notes-request")
    body = "Conclusions:\n- Lead with value\nActions:\n- Ana: send the proposal by 2027-01-15\n"
    rows = deliver_and_read(tmp_path, cfg, {"notes": reply_to(request, body, name="notes", references=True,
                                                              to=str(cfg.organizer.email))})
    row = rows["notes"]
    assert row.status == "handled" and row.kind == "notes-request"
    assert row.payload["conclusions"] == ["Lead with value"]
    assert row.payload["actions"][0]["due"] == "2027-01-15"


def test_a_reply_from_someone_else_is_quarantined_and_an_alias_is_accepted(tmp_path, sent, cfg):
    request = of_kind(sent, "feedback-request")
    rows = deliver_and_read(tmp_path, cfg, {
        "stranger": reply_to(request, FEEDBACK, name="stranger", sender="someone@elsewhere.example"),
    })
    assert rows["stranger"].status == "quarantined"
    assert "someone@elsewhere.example is not" in rows["stranger"].reason
    person = next(p for p in cfg.people if str(p.email) == address(request, "To"))
    text = EXAMPLE.read_text().replace(f"email: {person.email},", f"email: {person.email}, aliases: [{person.id}@home.example],", 1)
    aliased_config = EXAMPLE.parent / f".aliased-{os.getpid()}.yaml"
    aliased_config.write_text(text)
    try:
        aliased = load_config(aliased_config)
        rows = deliver_and_read(tmp_path, aliased, {
            "alias": reply_to(request, FEEDBACK, name="alias", sender=f"{person.id}@home.example")})
    finally:
        aliased_config.unlink()
    assert rows["alias"].status == "handled" and rows["alias"].person_id == person.id


@pytest.mark.parametrize("header", ["Auto-Submitted: auto-replied", "X-Autoreply: yes", "Precedence: auto_reply",
                                    "Return-Path: <>"])
def test_auto_replies_are_recognised_not_counted_and_not_quarantined(tmp_path, sent, cfg, header):
    request = of_kind(sent, "feedback-request")
    rows = deliver_and_read(tmp_path, cfg, {"ooo": reply_to(request, "I am out of the office until Monday. 5",
                                                            name="ooo", extra=header + "\r\n")})
    assert rows["ooo"].status == "auto-reply" and rows["ooo"].rating is None


def test_the_same_message_seen_twice_is_processed_once(tmp_path, sent, cfg):
    request = of_kind(sent, "feedback-request")
    raw = reply_to(request, FEEDBACK, name="twice")
    deliver_and_read(tmp_path, cfg, {"first": raw})
    rows = deliver_and_read(tmp_path, cfg, {"second": raw})
    assert list(rows) == ["twice"]


def test_hostile_mail_is_judged_one_by_one_and_never_holds_up_a_good_reply(tmp_path, sent, cfg):
    request = of_kind(sent, "feedback-request")
    good = reply_to(request, FEEDBACK, name="good")
    nested = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for depth in range(1, 300):
        nested += f"--b{depth - 1}\r\nContent-Type: multipart/mixed; boundary=b{depth}\r\n\r\n".encode()
    huge = reply_to(request, "Rating: 5", name="huge").replace(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nRating: 5",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nRating: 5\r\n"
        b"--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b"QUJD" * (25 * 1024 * 1024 // 4) + b"\r\n--x--\r\n")
    injected = reply_to(request, "Rating: 2", name="injected").replace(
        b"Subject: Re:", b"Subject: =?utf-8?q?hi=0D=0ABcc=3A_all=40example.org?= Re:")
    rows = deliver_and_read(tmp_path, cfg, {
        "1-nested": b"From: x@y.example\r\nMessage-ID: <nested@client.example>\r\nMIME-Version: 1.0\r\n" + nested,
        "2-huge": huge,
        "3-injected": injected,
        "4-garbage": b"\x00\xff\xfe\r\n\r\n\x00",
        "5-good": good,
    })
    assert rows["good"].status == "handled" and rows["good"].rating == 4
    assert rows["huge"].status == "handled" and rows["huge"].rating == 5
    assert rows["nested"].status == "quarantined"
    assert rows["injected"].status == "handled" and rows["injected"].rating == 2
    assert len(rows) == 5, "every message is recorded, none lost"
    assert not list((tmp_path / "inbox" / "new").iterdir())


def test_a_secret_others_can_read_is_refused_with_the_fix(tmp_path):
    secret = reply_token.load_or_create_secret(tmp_path)
    assert reply_token.load_or_create_secret(tmp_path) == secret, "created once, then kept"
    (tmp_path / reply_token.SECRET_FILE).chmod(0o644)
    with pytest.raises(reply_token.SecretError, match="chmod 600"):
        reply_token.load_or_create_secret(tmp_path)


def invoke(*args: str):
    from click.testing import CliRunner

    from coachd.cli.commands import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_admins_list_assign_and_dismiss_quarantined_mail_and_see_the_feedback(tmp_path, sent, cfg):
    request = of_kind(sent, "feedback-request")
    person = next(p for p in cfg.people if str(p.email) == address(request, "To"))
    deliver_and_read(tmp_path, cfg, {
        "home": reply_to(request, "Rating: 2\nAvoid: running late", name="home", sender="me@home.example"),
        "spam": reply_to(request, "Buy now", name="spam", sender="spam@spam.example",
                         to=str(cfg.organizer.email)),
    })
    listed = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--json")
    assert listed.exit_code == 0, listed.output
    rows = {r["from"]: r for r in json.loads(listed.output)["quarantined"]}
    assert set(rows) == {"me@home.example", "spam@spam.example"}
    assert "not a reply to anything coachd sent" in rows["spam@spam.example"]["reason"]
    assert rows["me@home.example"]["subject"].startswith("Re: ")

    wrong = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--assign", str(rows["me@home.example"]["id"]),
                   "--person", "nobody")
    assert wrong.exit_code == 2 and "no person 'nobody'" in wrong.output and "Traceback" not in wrong.output
    missing = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--dismiss", "9999")
    assert missing.exit_code == 2 and "no reply 9999" in missing.output

    assigned = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--assign", str(rows["me@home.example"]["id"]),
                      "--person", person.id, "--session", str(request["X-Coachd-Session"]), "--kind", "feedback-request")
    assert assigned.exit_code == 0, assigned.output
    assert "rating 2" in assigned.output
    dismissed = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--dismiss", str(rows["spam@spam.example"]["id"]))
    assert dismissed.exit_code == 0, dismissed.output
    again = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--dismiss", str(rows["spam@spam.example"]["id"]))
    assert again.exit_code == 2 and "dismissed, not quarantined" in again.output
    assert "No quarantined replies" in invoke("inbox", str(EXAMPLE), "--state", str(tmp_path)).output

    listed = invoke("feedback", str(EXAMPLE), "--state", str(tmp_path), "--json")
    [entry] = json.loads(listed.output)["feedback"]
    assert (entry["person"], entry["rating"], entry["avoid"]) == (person.id, 2, "running late")
    assert entry["session"] == str(request["X-Coachd-Session"])
    # The assignment counts from the next inbox run: a rating of 2 is stress.
    tick(tmp_path, cfg, program_start(cfg) + timedelta(days=4, minutes=20))
    [entry] = json.loads(invoke("feedback", str(EXAMPLE), "--state", str(tmp_path), "--json").output)["feedback"]
    assert entry["state"] == "stress" and any("rating 2" in reason for reason in entry["state_because"])
    text = invoke("feedback", str(EXAMPLE), "--state", str(tmp_path)).output
    assert person.name.split()[0] in text and "running" in text  # the table folds to the terminal


def test_a_reply_is_never_assigned_to_a_request_that_asks_for_no_answer(tmp_path, sent, cfg):
    # The sponsors' final report is a wrap-up about no session: it carries no reply token and asks nothing.
    from coachd.runtime.clock import VirtualClock as Clock

    sponsor = cfg.people_by_id[cfg.sponsors[0]]
    now = program_start(cfg) + timedelta(days=4, minutes=5)
    program = open_program(cfg, tmp_path, Clock(now))
    try:
        with program.store.session() as db:
            db.add(Outbox(key=f"mail:{cfg.program.id}/final/wrap-up/{sponsor.id}", program_id=cfg.program.id,
                          kind="wrap-up", session_id=None, recipient=sponsor.id, to_addr=str(sponsor.email),
                          subject="Final report", message_id="<final-report@northwind.example>", status="sent",
                          due_at=now, next_attempt_at=now, created_at=now, sent_at=now))
    finally:
        program.close()
    assert not expects_answer("wrap-up", None)
    reply = (f"From: {sponsor.email}\r\nTo: {cfg.organizer.email}\r\nSubject: Re: Final report\r\n"
             "Message-ID: <thanks@client.example>\r\nIn-Reply-To: <final-report@northwind.example>\r\n"
             "Date: Fri, 08 Jan 2027 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nThanks, 5 stars!\r\n").encode()
    rows = deliver_and_read(tmp_path, cfg, {"thanks": reply})
    assert rows["thanks"].status == "quarantined" and "asks for no answer" in rows["thanks"].reason

    for extra in ((), ("--kind", "wrap-up")):
        refused = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--assign", str(rows["thanks"].id),
                         "--person", sponsor.id, *extra)
        assert refused.exit_code == 2, refused.output
        assert "final report" in refused.output and "asks for no answer" in refused.output, refused.output
        assert "Traceback" not in refused.output
    listed = json.loads(invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--json").output)["quarantined"]
    assert [r["id"] for r in listed] == [rows["thanks"].id], "still quarantined, nothing recorded"


def test_low_ratings_put_a_coachee_under_stress_and_book_weekly_check_ins(tmp_path, sent, cfg):
    request = next(m for m in sent if m["X-Coachd-Kind"] == "feedback-request"
                   and any(address(m, "To") == str(cfg.people_by_id[c].email) for t in cfg.teams for c in t.members))
    person = next(p for p in cfg.people if str(p.email) == address(request, "To"))
    deliver_and_read(tmp_path, cfg, {"low": reply_to(request, "Rating: 1\nHonestly I feel overwhelmed.", name="low")})
    records, _ = tick(tmp_path, cfg, program_start(cfg) + timedelta(days=4, minutes=15))
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        from coachd.observe.observer import STATES_META

        assert (program.get_meta(STATES_META) or {}).get(person.id) == "stress"
    finally:
        program.close()
    booked = [p.name for p in (tmp_path / "calendar").glob(f"*check-in-{person.id}*")]
    assert booked, "a stressed coachee gets check-in calls"


def itip_reply(sender: str, organizer: str, uid: str, rid: str, partstat: str, name: str) -> bytes:
    """A calendar answer as Outlook mails it: a short text and a METHOD:REPLY calendar part."""
    calendar = (f"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\n"
                f"BEGIN:VEVENT\r\nUID:{uid}\r\nRECURRENCE-ID:{rid}\r\nDTSTAMP:20270105T100000Z\r\n"
                f"ORGANIZER:mailto:{organizer}\r\nATTENDEE;PARTSTAT={partstat}:mailto:{sender}\r\n"
                "END:VEVENT\r\nEND:VCALENDAR\r\n")
    return (f"From: {sender}\r\nTo: {organizer}\r\nSubject: Declined: group session\r\n"
            f"Message-ID: <{name}@client.example>\r\nDate: Fri, 08 Jan 2027 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain\r\n\r\n"
            "Sorry, I cannot make this one.\r\n--alt\r\nContent-Type: text/calendar; charset=utf-8; method=REPLY\r\n\r\n"
            + calendar + "--alt--\r\n").encode()


def test_an_emailed_decline_by_the_host_moves_that_occurrence_and_a_strangers_is_quarantined(tmp_path, sent, cfg):
    from coachd.model.types import ical_utc
    from coachd.observe.observer import observe

    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        booking = next(b for b in observe(program.store, program.id).bookings.values()
                       if b.series.spec.kind.value == "group")
    finally:
        program.close()
    spec = booking.series.spec
    occurrence = booking.series.occurrences()[2]
    host = cfg.people_by_id[spec.host.person_id]
    organizer = str(cfg.organizer.email)
    rid = ical_utc(occurrence.recurrence_id)
    rows = deliver_and_read(tmp_path, cfg, {
        "decline": itip_reply(str(host.email), organizer, spec.uid, rid, "DECLINED", "decline"),
        "forged": itip_reply("mallory@elsewhere.example", organizer, spec.uid, rid, "DECLINED", "forged"),
    })
    assert rows["decline"].status == "handled" and rows["decline"].kind == "rsvp"
    # Stored under the session id every other record uses ("uid/20270111T150000Z"), not an ISO time.
    assert rows["decline"].session_id == occurrence.session_id == f"{spec.uid}/{rid}"
    assert rows["decline"].payload["responses"][0]["partstat"] == "DECLINED"
    assert rows["forged"].status == "quarantined"
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        observed = observe(program.store, program.id)
        assert observed.declines[occurrence.session_id].people == {host.id}
        moved = next(b for b in observed.bookings.values() if b.series.spec.uid == spec.uid).series
    finally:
        program.close()
    [now_at] = [o for o in moved.occurrences() if o.session_id == occurrence.session_id]
    assert now_at.start != occurrence.start, "the host cannot come: the occurrence was moved"
    assert now_at.start.isocalendar()[:2] == occurrence.start.isocalendar()[:2], "within its week"
    records, _ = tick(tmp_path, cfg, program_start(cfg) + timedelta(days=4, minutes=30))
    assert not [r for r in records if r.kind == "book"], "settled: not moved back to the declined time"


def test_one_reminder_to_whoever_did_not_answer_and_a_reply_to_it_still_counts(tmp_path, sent, cfg):
    answered = of_kind(sent, "feedback-request")
    deliver_and_read(tmp_path, cfg, {"answered": reply_to(answered, FEEDBACK, name="answered")})
    for days in (8, 9, 12, 15):
        tick(tmp_path, cfg, program_start(cfg) + timedelta(days=days))
    mail = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((tmp_path / "mail").glob("*.eml"))]
    reminders = [m for m in mail if m["X-Coachd-Kind"] == "feedback-reminder"]
    assert reminders, "those who did not answer are reminded"
    per_person = [(str(m["X-Coachd-Session"]), str(m["To"])) for m in reminders]
    assert len(per_person) == len(set(per_person)), "once each, never again"
    assert (str(answered["X-Coachd-Session"]), str(answered["To"])) not in per_person, "who answered is not reminded"
    late = reminders[0]
    assert late["Reply-To"] is not None
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    program.inbox.deliver(reply_to(late, "Rating: 3\nRepeat: the deal review", name="late"), "late")
    program.close()
    tick(tmp_path, cfg, program_start(cfg) + timedelta(days=15, minutes=5))
    rows = json.loads(invoke("feedback", str(EXAMPLE), "--state", str(tmp_path), "--json").output)["feedback"]
    late_row = next(r for r in rows if r["after_reminder"])
    assert late_row["rating"] == 3 and late_row["session"] == str(late["X-Coachd-Session"])


@pytest.mark.parametrize("oldest_first", [True, False], ids=["kickoff-then-next", "next-then-kickoff"])
def test_without_a_token_the_parent_and_a_request_that_asks_for_an_answer_win(tmp_path, cfg, oldest_first):
    """Two feedback requests (two sessions) in References, in either order: the parent (In-Reply-To) wins,
    whichever it is; a parent that asks for nothing (the summary) loses to the nearest request that asks."""
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    tick(tmp_path, cfg, program_start(cfg) + timedelta(days=4))
    tick(tmp_path, cfg, program_start(cfg) + timedelta(days=13))
    sent = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((tmp_path / "mail").glob("*.eml"))]
    kickoff = of_kind(sent, "feedback-request")
    to = address(kickoff, "To")
    later = next(m for m in sent if m["X-Coachd-Kind"] == "feedback-request" and address(m, "To") == to
                 and m["X-Coachd-Session"] != kickoff["X-Coachd-Session"])
    summary = next(m for m in sent if m["X-Coachd-Kind"] == "summary" and address(m, "To") == to)
    assert not expects_answer("summary", str(summary["X-Coachd-Session"]))
    organizer = str(cfg.organizer.email)
    thread = [kickoff, later] if oldest_first else [later, kickoff]

    def without_token(name: str, body: str, parent: EmailMessage, refs: list[EmailMessage]) -> bytes:
        ids = " ".join(str(m["Message-ID"]) for m in refs)
        return reply_to(kickoff, body, name=name, to=organizer).replace(
            b"MIME-Version", f"In-Reply-To: {parent['Message-ID']}\r\nReferences: {ids}\r\nMIME-Version".encode())

    rows = deliver_and_read(tmp_path, cfg, {
        "tokickoff": without_token("tokickoff", "Rating: 5", kickoff, thread),
        "tolater": without_token("tolater", "Rating: 3", later, thread),
        "asks": without_token("asks", "Rating: 4", summary, [summary, *thread]),
    }, days=13)
    got = {name: (row.status, row.kind, row.session_id, row.rating) for name, row in rows.items()}
    assert got["tokickoff"] == ("handled", "feedback-request", str(kickoff["X-Coachd-Session"]), 5)
    assert got["tolater"] == ("handled", "feedback-request", str(later["X-Coachd-Session"]), 3)
    # The parent asks for nothing: of the others, the one nearest the reply asks (References' last).
    assert got["asks"] == ("handled", "feedback-request", str(thread[-1]["X-Coachd-Session"]), 4)


def test_a_second_reply_to_the_same_request_replaces_the_first_in_the_figures():
    from datetime import datetime, timezone

    from coachd.model.observed import ReplyFact, latest_answers

    at = datetime(2027, 1, 11, 18, tzinfo=timezone.utc)
    first = ReplyFact("feedback-request", "s1", "ana", at, 2)
    again = ReplyFact("feedback-reminder", "s1", "ana", at + timedelta(days=3), 4)
    other = ReplyFact("feedback-request", "s1", "ben", at, 3)
    assert latest_answers([again, other, first]) == [other, again]


def test_nul_characters_in_a_reply_do_not_stop_the_inbox_on_any_database(tmp_path, cfg, database_url):
    from coachd.observe.inbox import read_inbox
    from coachd.execute.executor import Executor

    store_cfg = cfg.model_copy(update={"store": cfg.store.model_copy(update={"url": database_url})})
    program = open_program(store_cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        program.inbox.deliver(b"From: a\x00b@example.org\r\nMessage-ID: <nul\x00@x.example>\r\nSubject: \x00\r\n"
                              b"In-Reply-To: <x\x00@y>\r\nContent-Type: text/plain; charset=utf-16\r\n\r\n\x00h\x00i", "1")
        program.inbox.deliver(b"From: c@example.org\r\nMessage-ID: <after@x.example>\r\n\r\nhello", "2")
        assert read_inbox(program, Executor(program), program_start(cfg)) == 2
        with program.store.session() as db:
            assert len(db.scalars(select(Reply)).all()) == 2
    finally:
        program.close()


def test_changing_a_reply_never_upgrades_an_older_database(tmp_path):
    from alembic import command

    from coachd.store.db import alembic_config, create_store_engine, sqlite_url

    engine = create_store_engine(sqlite_url(tmp_path))
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0001")
        connection.commit()
    engine.dispose()
    result = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--dismiss", "1")
    assert result.exit_code == 2 and "schema revision '0001'" in result.output
    huge = invoke("inbox", str(EXAMPLE), "--state", str(tmp_path), "--dismiss", "9" * 30)
    assert huge.exit_code == 2 and "Traceback" not in huge.output
    notes = tmp_path / "notes.txt"
    notes.write_text("Conclusions:\n- one\n")
    for command in (("confirm", str(EXAMPLE), "hold-1"), ("notes", str(EXAMPLE), "uid/20270111T150000Z", str(notes))):
        other = invoke(*command, "--state", str(tmp_path))
        assert other.exit_code == 2 and "schema revision '0001'" in other.output, (command, other.output)
    engine = create_store_engine(sqlite_url(tmp_path))
    with engine.connect() as connection:
        from sqlalchemy import text

        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    engine.dispose()


def test_processes_starting_together_all_get_the_one_secret(tmp_path):
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(6) as pool:
        secrets = pool.map(reply_token.load_or_create_secret, [tmp_path] * 24)
    assert len(set(secrets)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [reply_token.SECRET_FILE], "no scratch file left behind"


def test_a_reply_with_a_huge_attachment_is_read_and_stored_without_it(tmp_path, sent, cfg):
    request = of_kind(sent, "feedback-request")
    plain = reply_to(request, FEEDBACK, name="big")
    head, body = plain.split(b"\r\n\r\n", 1)
    head = head.replace(b"Content-Type: text/plain; charset=utf-8", b"Content-Type: multipart/mixed; boundary=b")
    deck = b"A" * (30 * 1024 * 1024)
    raw = (head + b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
           + b"\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=deck.pdf\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + deck + b"\r\n--b--\r\n")
    rows = deliver_and_read(tmp_path, cfg, {"big": raw})
    row = rows["big"]
    assert (row.status, row.rating) == ("handled", 4)
    assert row.payload["repeat"] == "role plays"
    assert len(row.raw) < 64 * 1024
    note = email.message_from_bytes(row.raw, policy=email.policy.default)["X-Coachd-Trimmed"]
    assert "dropped 1 other part (application/pdf deck.pdf)" in str(note)
