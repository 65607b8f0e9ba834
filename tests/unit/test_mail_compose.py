"""Email composition: every kind renders, headers and MIME are right, times are local, admins are sandboxed."""

from __future__ import annotations

import dataclasses
import email
import hashlib
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from coachd.model.types import Attendee
from coachd.mail import Composer, CompositionError, Envelope, UnknownKind
from coachd.model.mail_kinds import MailKind
from coachd.mail.filters import localdate, localrange, localtimes, minutes
from coachd.mail.samples import DANA, LENA, PRIYA, ZOE, sample_context, session

UTC = timezone.utc
SENT = datetime(2027, 1, 10, 15, 0, tzinfo=UTC)
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//coachd//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
    "UID:c0a1d7e2f3b4@northwind-2027.coachd\r\nSUMMARY:Gruppe mit Zoë\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
).encode("utf-8")


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer()


def envelope(key: str = "mail:northwind-2027/s1/agenda/priya", **changes: Any) -> Envelope:
    base = Envelope(key=key, sender_name="Northwind Coaching Office", sender_email="coaching@northwind.example", date=SENT)
    return dataclasses.replace(base, **changes)


def parts(msg: EmailMessage) -> dict[str, EmailMessage]:
    return {part.get_content_type(): part for part in msg.walk()}


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(composer: Composer, kind: str, recipient: Attendee, context: dict[str, Any]) -> tuple[str, str, str]:
    msg = reparse(composer.compose(kind, recipient, context, envelope()))
    found = parts(msg)
    return str(msg["Subject"]), found["text/plain"].get_content(), found["text/html"].get_content()


# --- every kind ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MailKind))
def test_each_kind_composes_for_its_sample_recipient(composer: Composer, kind: str) -> None:
    context = sample_context(kind)
    msg = reparse(composer.compose(kind, context["recipient"], context, envelope()))
    assert msg["X-Coachd-Kind"] == kind
    assert msg["Subject"].strip() and "\n" not in str(msg["Subject"])
    found = parts(msg)
    assert found["multipart/alternative"]
    assert context["recipient"].name.split()[0] in found["text/plain"].get_content()
    assert "</html>" in found["text/html"].get_content()


def test_the_builtin_templates_pass_their_own_check(composer: Composer) -> None:
    assert composer.check() == []


def test_an_unknown_kind_is_refused(composer: Composer) -> None:
    with pytest.raises(UnknownKind):
        composer.compose("newsletter", PRIYA, sample_context("agenda"), envelope())


def test_a_missing_context_value_names_the_template_line(composer: Composer) -> None:
    context = sample_context("agenda")
    del context["purpose"]
    with pytest.raises(CompositionError, match=r"templates/email/agenda/body\.(txt|html):\d+: 'purpose' is undefined"):
        composer.compose("agenda", PRIYA, context, envelope())


# --- headers -------------------------------------------------------------------------------------


def test_headers(composer: Composer) -> None:
    env = envelope(
        reply_to="coaching+t0k3n@northwind.example",
        series_uid="c0a1d7e2f3b4@northwind-2027.coachd",
        session_id="c0a1d7e2f3b4@northwind-2027.coachd/20270111T150000Z",
        thread_key="thread:c0a1d7e2f3b4",
    )
    msg = reparse(composer.compose("agenda", PRIYA, sample_context("agenda"), env))
    assert msg["From"].addresses[0].display_name == "Northwind Coaching Office"
    assert msg["From"].addresses[0].addr_spec == "coaching@northwind.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "coaching+t0k3n@northwind.example"
    assert msg["Reply-To"].addresses[0].display_name == "Northwind Coaching Office"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert msg["X-Coachd-Kind"] == "agenda"
    assert msg["X-Coachd-Series"] == "c0a1d7e2f3b4@northwind-2027.coachd"
    assert msg["X-Coachd-Session"] == "c0a1d7e2f3b4@northwind-2027.coachd/20270111T150000Z"
    root = f"<{hashlib.sha256(b'thread:c0a1d7e2f3b4').hexdigest()[:32]}@northwind.example>"
    assert msg["In-Reply-To"] == root and msg["References"] == root
    assert msg["Precedence"] is None  # person-to-person mail, not a list
    assert msg["MIME-Version"] == "1.0"
    bare = composer.compose("digest", DANA, sample_context("digest"), envelope())
    for header in ("Reply-To", "X-Coachd-Series", "X-Coachd-Session", "In-Reply-To", "References"):
        assert bare[header] is None, header


def test_date_and_message_id_derive_from_the_envelope_only(composer: Composer) -> None:
    key = "mail:northwind-2027/c0a1/agenda/priya"
    first = composer.compose("agenda", PRIYA, sample_context("agenda"), envelope(key))
    again = Composer().compose("agenda", PRIYA, sample_context("agenda"), envelope(key))
    assert first["Message-ID"] == f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@northwind.example>"
    assert parsedate_to_datetime(first["Date"]) == SENT
    assert first.as_bytes() == again.as_bytes()  # boundaries included: a re-render is the same email
    other = composer.compose("agenda", PRIYA, sample_context("agenda"), envelope(key + "x"))
    assert other["Message-ID"] != first["Message-ID"]
    with pytest.raises(ValueError, match="aware"):
        composer.compose("agenda", PRIYA, sample_context("agenda"), envelope(date=datetime(2027, 1, 10, 9, 0)))


def test_non_ascii_recipient_and_subject_survive_the_wire(composer: Composer) -> None:
    context = sample_context("summary")
    rendered = composer.render("summary", ZOE, context)
    msg = reparse(composer.compose("summary", ZOE, context, envelope()))
    assert "Große" in rendered.subject
    assert msg["Subject"] == rendered.subject
    assert msg["To"].addresses[0].display_name == "Zoë Müller"
    assert msg["To"].addresses[0].addr_spec == "zoe@northwind.example"
    assert "Zoë Müller" in parts(msg)["text/plain"].get_content()
    raw = composer.compose("summary", ZOE, context, envelope()).as_bytes()
    assert all(byte < 128 for byte in raw)  # encoded words and QP: safe for 7-bit relays


# --- MIME ----------------------------------------------------------------------------------------


def test_an_invitation_carries_the_ics_as_alternative_and_as_attachment(composer: Composer) -> None:
    msg = reparse(composer.compose("invitation", PRIYA, sample_context("invitation"), envelope(ics=ICS, ics_method="REQUEST")))
    assert msg.get_content_type() == "multipart/mixed"
    alternative = next(p for p in msg.iter_parts() if p.get_content_type() == "multipart/alternative")
    types = [p.get_content_type() for p in alternative.iter_parts()]
    assert types == ["text/plain", "text/html", "text/calendar"]
    calendar = list(alternative.iter_parts())[2]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    assert "METHOD:REQUEST" in calendar.get_content() and "Zoë" in calendar.get_content()
    attachment = next(p for p in msg.iter_attachments() if p.get_content_type() == "application/ics")
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == ICS


def test_the_calendar_method_follows_the_ics_and_no_ics_means_no_calendar_part(composer: Composer) -> None:
    cancel = ICS.replace(b"METHOD:REQUEST", b"METHOD:CANCEL")
    msg = reparse(composer.compose("cancellation", PRIYA, sample_context("cancellation"), envelope(ics=cancel)))
    assert parts(msg)["text/calendar"].get_param("method") == "CANCEL"
    msg = composer.compose("cancellation", PRIYA, sample_context("cancellation"), envelope())
    assert msg.get_content_type() == "multipart/alternative"
    assert "text/calendar" not in parts(msg)


# --- escaping and confidentiality ------------------------------------------------------------------

PAYLOAD = "<script>alert(1)</script>"
_ENUMS = {"timezone", "email", "kind", "focus", "state", "id", "series_uid", "person_id"}


def _poison(value: Any, key: str = "") -> Any:
    """Every free-text string in a context, people's names included, gets a script tag."""
    if isinstance(value, str):
        return value if key in _ENUMS else value + PAYLOAD
    if isinstance(value, Attendee):
        # In front too: templates may show only a first name (the notes-request example does).
        return dataclasses.replace(value, name=PAYLOAD + value.name + PAYLOAD)
    if isinstance(value, dict):
        return {k: _poison(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, key) for v in value]
    return value


@pytest.mark.parametrize("kind", list(MailKind))
def test_html_escapes_everything_from_the_context(composer: Composer, kind: str) -> None:
    context = _poison(sample_context(kind))
    rendered = composer.render(kind, context["recipient"], context)
    assert "<script" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert PAYLOAD in rendered.text  # plain text is not HTML: it stays as written


def test_a_suppressed_rating_is_not_shown_even_when_passed(composer: Composer) -> None:
    context = sample_context("digest")
    context["feedback"] = {**context["feedback"], "responses": 2, "requests": 9, "average_rating": 3.7,
                           "suppressed": True}
    _, text, html = bodies(composer, "digest", DANA, context)
    assert "3.7" not in text and "3.7" not in html
    assert "suppressed, fewer than 3 people gave one" in " ".join(text.split())


def test_a_one_to_one_summary_says_who_reads_it(composer: Composer) -> None:
    _, text, _ = bodies(composer, "summary", ZOE, sample_context("summary"))
    assert "one-to-one: its notes go to Lena Große and you only" in " ".join(text.split())


def test_the_notes_request_explains_the_reply_format(composer: Composer) -> None:
    _, text, html = bodies(composer, "notes-request", LENA, sample_context("notes-request"))
    assert "Conclusions:" in text and "Actions:" in text
    assert "- Zoë: send the revised proposal by 2027-01-19" in text
    assert "- Zoë: send the revised proposal by 2027-01-19" in html


def test_the_feedback_reminder_is_the_only_one(composer: Composer) -> None:
    subject, text, _ = bodies(composer, "feedback-reminder", PRIYA, sample_context("feedback-reminder"))
    assert subject.startswith("Reminder")
    assert "only reminder" in text
    assert "Rating:" in text and "Repeat:" in text and "Avoid:" in text and "1 (not useful) to 5" in text


# --- time zones ------------------------------------------------------------------------------------


def test_times_are_shown_in_the_recipients_zone(composer: Composer) -> None:
    context = sample_context("agenda")  # 15:00 UTC on Mon 11 Jan 2027
    subject, text, html = bodies(composer, "agenda", PRIYA, context)
    assert "Mon 11 Jan 2027, 20:30 IST" in subject
    assert "Mon 11 Jan 2027, 20:30–21:30 IST (60 min) = 16:00–17:00 CET for Lena Große" in text
    assert "20:30–21:30 IST" in html
    _, text, _ = bodies(composer, "agenda", ZOE, context)
    assert "Mon 11 Jan 2027, 09:00–10:00 CST (60 min)" in text
    assert "IST" not in text
    _, text, _ = bodies(composer, "agenda", LENA, context)
    assert "16:00–17:00 CET (60 min)" in text and " for Lena" not in text  # the host needs no translation


def test_a_chicago_reader_sees_daylight_time_in_summer(composer: Composer) -> None:
    context = sample_context("agenda")
    context["session"] = session(start=datetime(2027, 7, 12, 15, 0, tzinfo=UTC))
    subject, text, _ = bodies(composer, "agenda", ZOE, context)
    assert "Mon 12 Jul 2027, 10:00 CDT" in subject
    assert "10:00–11:00 CDT (60 min) = 17:00–18:00 CEST for Lena Große" in text


def test_filters() -> None:
    start = datetime(2027, 1, 11, 18, 0, tzinfo=UTC)
    assert (
        localrange(start, start + timedelta(hours=1), "Asia/Kolkata")
        == "Mon 11 Jan 2027, 23:30 IST – Tue 12 Jan 2027, 00:30 IST (60 min)"
    )
    assert localrange(start, start + timedelta(minutes=90), "America/Sao_Paulo") == "Mon 11 Jan 2027, 15:00–16:30 UTC-03 (90 min)"
    assert localtimes(start, start + timedelta(hours=1), "Asia/Tokyo", "America/Chicago") == "Tue 12 Jan, 03:00–04:00 JST"
    assert localdate(start, "Asia/Tokyo") == "Tue 12 Jan 2027"
    assert minutes(timedelta(minutes=45)) == "45 min"
    # The night the clocks go back in Chicago: 01:30 CDT to 01:30 CST is an hour.
    fall = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)
    assert localrange(fall, fall + timedelta(hours=1), "America/Chicago") == "Sun 7 Nov 2027, 01:30 CDT – 01:30 CST (60 min)"
    with pytest.raises(ValueError, match="aware"):
        localrange(datetime(2027, 1, 11, 9), datetime(2027, 1, 11, 10), "America/Chicago")


# --- admin templates -------------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_an_admin_template_wins_over_the_builtin(tmp_path: Path) -> None:
    write(tmp_path, "agenda/subject.txt", "Unser Termin: {{ session.title }}\n")
    write(tmp_path, "_base.html", "<html><body><p>Custom frame</p>{% block content %}{% endblock %}</body></html>\n")
    composer = Composer(tmp_path)
    rendered = composer.render("agenda", PRIYA, sample_context("agenda"))
    assert rendered.subject == "Unser Termin: Americas Enterprise: group coaching"
    assert "Custom frame" in rendered.html and "Plan the first-quarter" in rendered.html  # own base, built-in body
    assert composer.render("summary", ZOE, sample_context("summary")).subject.startswith("Summary:")
    assert composer.check() == []


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        # A syntax error, reported where Jinja notices it (the unclosed if meets endblock).
        ("agenda/body.html", "{% extends '_base.html' %}\n{% block content %}\n{% if purpose %}\n{% endblock %}\n",
         "agenda/body.html:4: Encountered unknown tag 'endblock'"),
        ("summary/body.txt", "Hello {{ recipient.name }},\n{{ coachee_private_notes }}\n",
         "summary/body.txt:2: 'coachee_private_notes' is undefined"),
        # Inside a shared macro: the macro's own file and line, not the caller's.
        ("_macros.txt", "{% macro action(a, reader) -%}\n{{ a.owner }} {{ a.ownr }}\n{%- endmacro %}\n",
         "_macros.txt:2: 'dict object' has no attribute 'ownr'"),
        ("agnda/subject.txt", "Agenda\n", "agnda/subject.txt: 'agnda' is not an email kind"),
    ],
)  # fmt: skip
def test_check_reports_admin_template_problems_with_file_and_line(
    tmp_path: Path, name: str, source: str, expected: str
) -> None:
    write(tmp_path, name, source)
    problems = Composer(tmp_path).check()
    assert any(p.startswith(f"{tmp_path.resolve()}/{expected}") for p in problems), problems


@pytest.mark.parametrize(
    "attack",
    [
        "{{ recipient.__class__.__init__.__globals__ }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ session.items.__self__.__class__.mro() }}",
    ],
)
def test_the_sandbox_refuses_unsafe_attributes_in_admin_templates(tmp_path: Path, attack: str) -> None:
    write(tmp_path, "agenda/body.txt", f"Hello\n{attack}\n")
    composer = Composer(tmp_path)
    with pytest.raises(CompositionError) as caught:
        composer.compose("agenda", PRIYA, sample_context("agenda"), envelope())
    assert isinstance(caught.value.__cause__, SecurityError)
    assert any(p.startswith(f"{tmp_path.resolve()}/agenda/body.txt:2:") for p in composer.check())


def test_a_line_break_in_a_header_value_is_refused() -> None:
    from datetime import datetime, timezone

    from coachd.model.types import Attendee, Role
    from coachd.mail.headers import Envelope, assemble_bytes

    envelope = Envelope(key="k", sender_name="Office", sender_email="office@example.org",
                        date=datetime(2027, 1, 11, tzinfo=timezone.utc), session_id="u/1\r\nBcc: victim@example.org")
    person = Attendee("zoe", "Zoë", "zoe@example.org", "UTC", Role.COACHEE)
    with pytest.raises(ValueError, match="line break"):
        assemble_bytes("agenda", person, "Subject", "text", "<p>html</p>", envelope)
    long_subject = "Agenda: Négociation " * 8  # folded into several encoded words: allowed
    raw = assemble_bytes("agenda", person, long_subject, "text", "<p>html</p>",
                         Envelope(key="k", sender_name="Office", sender_email="office@example.org",
                                  date=datetime(2027, 1, 11, tzinfo=timezone.utc)))
    import email
    import email.policy
    assert str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"]) == long_subject


def test_the_wire_generator_writes_exactly_what_the_email_packages_own_does(composer: Composer, monkeypatch) -> None:
    from coachd.mail import headers
    from coachd.mail.samples import sample_contexts

    ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:Café with Zoë\r\nEND:VCALENDAR\r\n".encode()
    for kind in MailKind:
        for context in sample_contexts(kind):
            env = envelope(f"wire/{kind}", ics=ics if kind == "invitation" else None)
            ours = composer.compose_bytes(kind, context["recipient"], context, env).raw
            with monkeypatch.context() as patched:
                patched.setattr(headers, "wire_bytes", lambda msg: msg.as_bytes(policy=headers.WIRE))
                stock = composer.compose_bytes(kind, context["recipient"], context, env).raw
            assert ours == stock, kind
