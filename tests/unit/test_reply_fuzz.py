"""The reply parser against arbitrary and hostile input: it never raises, stays bounded and returns the right shapes."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from email.message import EmailMessage, Message
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachd.replies import mime as reply_mime
from coachd.replies import reading as reply_text

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Lines that steer the parser down its less travelled paths, mixed with arbitrary text.
TRICKY_LINES = [
    "> quoted", ">", "> > nested", "On Mon, Jan 11, 2027 at 5:00 PM A <a@b.example> wrote:", "On 1/2/27, X wrote:",
    "Am 11.01.27 um 17:00 schrieb X:", "From: A <a@b.example>", "Sent: Monday", "To: B", "Subject: x", "De : X",
    "________________________________", "-----Original Message-----", "-- ", "--", "Sent from my iPhone",
    "Best regards,", "Thanks,", "Rating: 4", "Rating:", "Rating: 99", "Note : quatre", "****", "★★★★☆", "4/5",
    "1.", "1. x", "2) y", "Q3: z", "What worked well?", "Repeat:", "Avoid: x", "Conclusions:", "Actions", "To do",
    "- Ana: x by 2027-02-30", "* Ana - y (2027-02-01)", "Ben to z by Feb 29", "Topics:", "• topic", "Notes:",
    "\x00", "\r", "\u2028", "\ufeff", "<blockquote type=\"cite\">", "</div>", "10:30", "2027-02-03", "Hi Maria,",
]
texts = st.one_of(
    st.text(max_size=3000),
    st.lists(st.one_of(st.sampled_from(TRICKY_LINES), st.text(max_size=60)), max_size=60).map("\n".join),
)

# MIME building blocks, so that arbitrary messages still reach the part-walking and decoding code.
CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "x-unknown", "base64", "utf-16", "shift_jis",
            "utf-7", "idna", "rot13", '"', "", "utf-8\r\nBcc: evil@example.com"]
ENCODINGS = ["base64", "quoted-printable", "7bit", "8bit", "binary", "x-uuencode", ""]
TYPES = ["text/plain", "text/html", "text/calendar; method=REPLY", "application/ics", "application/octet-stream",
         "message/rfc822", "multipart/alternative", "text/plain; format=flowed", "text"]


@st.composite
def mime_messages(draw: Any) -> bytes:
    boundary = draw(st.sampled_from(["b1", "", "=_x", "b1\r\nX: y"]))
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        body = draw(st.one_of(st.binary(max_size=400), st.sampled_from(TRICKY_LINES).map(str.encode),
                              st.just(b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u\r\n"
                                      b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@b.example\r\nEND:VEVENT\r\nEND:VCALENDAR")))
        parts.append(b"Content-Type: %s; charset=\"%s\"\r\nContent-Transfer-Encoding: %s\r\n%s\r\n%s" % (
            draw(st.sampled_from(TYPES)).encode(), draw(st.sampled_from(CHARSETS)).encode(),
            draw(st.sampled_from(ENCODINGS)).encode(),
            draw(st.sampled_from([b"", b"Content-Disposition: attachment; filename=\"x.ics\"\r\n"])), body))
    separator = b"\r\n--" + boundary.encode() + b"\r\n"
    closing = draw(st.sampled_from([b"\r\n--" + boundary.encode() + b"--\r\n", b""]))
    head = (b"From: =?utf-8?q?A=0D=0ABcc:_x?= <a@b.example>\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
            % (draw(st.binary(max_size=30)), boundary.encode()))
    return head + separator + separator.join(parts) + closing


def _check_message(message: Message) -> None:
    body = reply_text.body_text(message)
    assert isinstance(body, str) and len(body) <= reply_mime.MAX_TEXT
    _check_text(body)
    responses = reply_text.itip_reply(message)
    assert isinstance(responses, list)
    for response in responses:
        assert set(response) == {"uid", "recurrence_id", "attendee", "partstat"}
        assert all(isinstance(response[k], str) for k in ("uid", "attendee", "partstat"))
        assert response["recurrence_id"] is None or isinstance(response["recurrence_id"], str)
        assert "\n" not in response["attendee"] and "\r" not in response["uid"]


def _check_text(text: str) -> None:
    fresh = reply_text.new_text(text)
    assert isinstance(fresh, str) and "\x00" not in fresh and "\r" not in fresh
    got = reply_text.feedback(text)
    assert set(got) == {"rating", "answers", "repeat", "avoid"}
    assert got["rating"] is None or (type(got["rating"]) is int and 1 <= got["rating"] <= 5)
    assert set(got["answers"]) == {"1", "2", "3"} and all(isinstance(v, str) for v in got["answers"].values())
    assert isinstance(got["repeat"], str) and isinstance(got["avoid"], str)
    strict = reply_text.rating(text)  # a self-assessment: on a line of its own; feedback also reads prose
    assert strict is None or strict == got["rating"]
    for today in (None, date(2027, 1, 20)):
        notes = reply_text.coach_notes(text, today=today)
        assert isinstance(notes["conclusions"], list) and all(isinstance(c, str) for c in notes["conclusions"])
        assert isinstance(notes["notes"], str)
        for action in notes["actions"]:
            assert set(action) == {"owner", "text", "due"} and all(isinstance(v, str) for v in action.values())
            assert action["due"] == "" or date.fromisoformat(action["due"])
    found = reply_text.topics(text)
    assert len(found) <= 5 and all(isinstance(t, str) and len(t) <= 200 and "\n" not in t for t in found)


@FUZZ
@given(texts)
def test_any_text_is_read_without_raising(text: str) -> None:
    _check_text(text)


@pytest.mark.parametrize(("text", "strict", "prose"), [
    ("Rating: 4", 4, 4),
    ("4/5\nThanks for the session", 4, 4),
    ("★★★★☆", 4, 4),
    ("Note : 5", 5, 5),
    ("Rating: 4\nI'd give it a 2 overall", 4, 4),  # a Rating: line wins in both readers
    ("I'd give it a 4", None, 4),  # prose: a feedback rating, not a self-assessment
    ("4 - too rushed", None, 4),
    ("3 deals closed", None, None),
])
def test_whatever_the_strict_reader_finds_feedback_finds_too(text: str, strict: int | None, prose: int | None) -> None:
    """The property _check_text fuzzes (rating() is None or equals feedback()'s), on cases where it is not
    vacuous: each reader's own answer is pinned, so two readers that agree by both finding nothing fail here."""
    assert (reply_text.rating(text), reply_text.feedback(text)["rating"]) == (strict, prose)
    _check_text(text)


@FUZZ
@given(st.binary(max_size=4000))
def test_any_bytes_are_read_as_a_message_without_raising(raw: bytes) -> None:
    _check_message(reply_text.parse_message(raw))


@FUZZ
@given(mime_messages())
def test_any_mime_structure_is_read_without_raising(raw: bytes) -> None:
    _check_message(reply_text.parse_message(raw))


@FUZZ
@given(st.text(max_size=2000))
def test_any_html_is_read_without_raising(markup: str) -> None:
    message = EmailMessage()
    message.set_content(markup, subtype="html")
    _check_message(message)


# -- named hostile cases --------------------------------------------------------------------------------

def _message(raw: str | bytes) -> EmailMessage:
    return reply_text.parse_message(raw.encode() if isinstance(raw, str) else raw)


@pytest.mark.parametrize("raw", [
    "Content-Type: multipart/mixed\r\n\r\n--x\r\nRating: 4\r\n",  # no boundary parameter
    # never closed
    'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nRating: 4\r\n',
    'Content-Type: multipart/alternative; boundary="x"\r\n\r\n--x--\r\n',  # no parts
    "Content-Type: text/plain; charset=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64===\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=E2=80\r\n",
    "Content-Type: ;;;==\r\nContent-Disposition: attachment; filename*=utf-8''%ff%fe\r\n\r\nRating: 4",
    "From: <<<>>>\r\nTo: ,,,@@@\r\nDate: not a date\r\nMessage-ID: <\r\n\r\nRating: 4",
    "\r\n\r\n\r\n",
    "",
    "Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\n",
])
def test_malformed_mime_never_raises(raw: str) -> None:
    _check_message(_message(raw))


@pytest.mark.parametrize(("charset", "payload", "expected"), [
    ("x-unknown-charset", "Nota: 5 – São Paulo".encode(), "Nota: 5 – São Paulo"),  # unknown: read as UTF-8
    ("utf-8", "Note : 4 – très bien".encode("cp1252"), "Note : 4 – très bien"),  # lies: it is windows-1252
    ("us-ascii", "Bewertung: 5 – größtenteils".encode(), "Bewertung: 5 – größtenteils"),  # lies: it is UTF-8
    ("iso-8859-1", "\u201cRating: 4\u201d".encode("cp1252"), "\u201cRating: 4\u201d"),  # Outlook's smart quotes
    ("base64", b"Rating: 4", "Rating: 4"),  # a codec that is not a text encoding
    ("rot13", b"Rating: 4", "Rating: 4"),
])
def test_unknown_and_lying_charsets_fall_back_to_readable_text(charset: str, payload: bytes, expected: str) -> None:
    raw = (f'Content-Type: text/plain; charset="{charset}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'.encode()
           + base64.b64encode(payload) + b"\r\n")
    assert reply_text.body_text(_message(raw)).strip() == expected


@pytest.fixture
def decoded_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every base64 decode made during a test, to prove a big attachment is never decoded."""
    sizes: list[int] = []
    original = binascii.a2b_base64

    def spy(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        sizes.append(len(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(binascii, "a2b_base64", spy)
    return sizes


def _with_attachment(size: int, content_type: str = "application/pdf", filename: str = "deck.pdf") -> bytes:
    blob = base64.encodebytes(b"\x00\x01binary" * (size // 8))
    return (b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
            b"Rating: 5\r\n\r\n--b\r\nContent-Type: " + content_type.encode() + b'\r\nContent-Disposition: attachment; '
            b'filename="' + filename.encode() + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + blob + b"\r\n--b--\r\n")


def test_a_25_mb_attachment_is_not_decoded(decoded_sizes: list[int]) -> None:
    message = _message(_with_attachment(25 * 1024 * 1024))
    decoded_sizes.clear()  # what parsing the message did is the inbox's business
    assert reply_text.new_text(reply_text.body_text(message)) == "Rating: 5"
    assert reply_text.itip_reply(message) == []
    assert not decoded_sizes  # (its time: benchmarks/bench_reply_parser.py)


def test_a_25_mb_calendar_attachment_is_read_only_up_to_its_bound(decoded_sizes: list[int]) -> None:
    message = _message(_with_attachment(25 * 1024 * 1024, "text/calendar; method=REPLY", "invite.ics"))
    decoded_sizes.clear()
    assert reply_text.itip_reply(message) == []
    assert max(decoded_sizes) <= reply_mime.MAX_ENCODED


@pytest.fixture
def qp_decoded_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every quoted-printable decode made during a test."""
    sizes: list[int] = []
    original = binascii.a2b_qp

    def spy(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        sizes.append(len(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(binascii, "a2b_qp", spy)
    return sizes


def test_a_25_mb_text_body_is_capped(qp_decoded_sizes: list[int]) -> None:
    """Counted, not timed (a test must not depend on the machine's speed; the time is in
    benchmarks/bench_reply_parser.py): only the first MAX_ENCODED characters are decoded at all."""
    raw = (b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
           + b"Rating: 4 =E2=80=93 fine\r\n" * (25 * 1024 * 1024 // 24))
    message = _message(raw)
    qp_decoded_sizes.clear()
    body = reply_text.body_text(message)
    assert len(body) <= reply_mime.MAX_TEXT and body.startswith("Rating: 4 – fine")
    assert qp_decoded_sizes and max(qp_decoded_sizes) <= reply_mime.MAX_ENCODED
    assert sum(qp_decoded_sizes) <= 2 * reply_mime.MAX_ENCODED
    assert reply_text.rating(body) == 4


def _nested(depth: int) -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    text = b"Content-Type: text/plain\r\n\r\nRating: 4\r\n"
    return b"From: a@b.example\r\nMIME-Version: 1.0\r\n" + opening + text + closing


def test_multiparts_nested_200_deep_are_read() -> None:
    message = _message(_nested(200))
    assert reply_text.new_text(reply_text.body_text(message)) == "Rating: 4"
    assert reply_text.itip_reply(message) == []


@pytest.mark.parametrize("depth", [1_000, 5_000])
def test_multiparts_nested_beyond_the_recursion_limit_never_raise(depth: int) -> None:
    message = _message(_nested(depth))
    _check_message(message)
    assert len(list(reply_mime.walk(message))) <= reply_mime.MAX_PARTS


def test_a_message_built_with_deep_nesting_in_memory_is_walked_without_recursion() -> None:
    root = inner = EmailMessage()
    for _ in range(3_000):  # deeper than Python's recursion limit, which the stdlib's walk() would hit
        child = EmailMessage()
        inner.set_payload([child])
        inner.set_type("multipart/mixed")
        inner = child
    inner.set_content("Rating: 4")
    _check_message(root)


def test_header_injection_attempts_stay_out_of_the_results() -> None:
    raw = (b"From: =?utf-8?q?Ana=0D=0ABcc:_evil@example.com?= <ana@northwind.example>\r\n"
           b"Subject: Re: x\r\nBcc: evil@example.com\r\n"
           b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
           b"--b\r\nContent-Type: text/plain; charset=\"utf-8\r\nBcc: evil@example.com\"\r\n\r\n"
           b"Topics:\r\n- Pricing\r\nBcc: evil@example.com\r\n- CFO\r\n"
           b"--b\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n"
           b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u1\r\n"
           b"ATTENDEE;PARTSTAT=ACCEPTED\\r\\nX-EVIL:1:mailto:ana@northwind.example\\r\\nBcc: evil@example.com\r\n"
           b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:ben@northwind.example\r\n"
           b"END:VEVENT\r\nEND:VCALENDAR\r\n--b--\r\n")
    message = _message(raw)
    assert all("\n" not in t and "\r" not in t for t in reply_text.topics(reply_text.body_text(message)))
    responses = reply_text.itip_reply(message)
    assert [r["attendee"] for r in responses] == ["ben@northwind.example"]  # the injected line's answer is dropped
    assert all("\n" not in v and "\r" not in v for r in responses for v in r.values() if v)


def test_nul_bytes_are_dropped() -> None:
    raw = b"Content-Type: text/plain\r\n\r\nRat\x00ing: 4\x00\r\n1. Role\x00 play\r\n"
    text = reply_text.body_text(_message(raw))
    assert reply_text.new_text(text) == "Rating: 4\n1. Role play"
    assert reply_text.feedback(text)["answers"]["1"] == "Role play"


def test_mixed_line_endings_read_as_one_kind() -> None:
    mixed = "Rating: 4\r\n1. Role play\r2. More pricing\n3. Yes\r\n\rOn 1/11/27 5:00 PM, X wrote:\r\n> Rating: 1\r"
    clean = "Rating: 4\n1. Role play\n2. More pricing\n3. Yes\n\nOn 1/11/27 5:00 PM, X wrote:\n> Rating: 1\n"
    expected = "Rating: 4\n1. Role play\n2. More pricing\n3. Yes"
    assert reply_text.new_text(mixed) == reply_text.new_text(clean) == expected
    assert reply_text.feedback(mixed) == reply_text.feedback(clean)


@pytest.mark.parametrize("text", [
    "x" * 300_000,
    ("On " + "a " * 140 + "1 wrote\n") * 2_000,  # near-miss attributions, which make header rules backtrack
    ("Le " + "é" * 250 + " 1 a écrit\n") * 2_000,
    "From: a\n" * 30_000,
    "> " * 100_000,
    ("- Ana: do it by " + "1 " * 100 + "\n") * 1_000,
    "Rating: " + "4" * 200_000,
    "<blockquote type=cite>" * 20_000 + "text",
    # near-misses for the rules added for more languages and clients
    ("x. On " + "a " * 140 + "1 wrote " + "b " * 100 + ":\n") * 600,  # a reply and a header joined on one line
    ("пн, 11 янв " + "a@b " * 60 + "<a@b.c:\n") * 2_000,  # a header with no verb, almost
    ("1 x " + "a" * 200 + "@" + "b" * 40 + " :\n> q\n") * 500,  # the same above a quote
    ("---- " + "a " * 140 + " wrote --\n") * 2_000,  # a Zoho or Android header, almost
    "Fra: a\n\nSendt: b\n\n" * 20_000,  # an Outlook block in paragraphs, repeated
    ("> " + "word " * 16 + "\ncontinued\n") * 8_000,  # rewrapped quotes
    "Kh\n- Ben\n" * 5_000,  # closings and dash names on every line
    "Thanks,\nBen\n" * 5_000,  # a closing on every line: each looks at most 10 lines on
])
def test_pathological_text_is_read_within_bounds(text: str) -> None:
    """What comes back is bounded; how long it takes is measured by benchmarks/bench_reply_parser.py (a test
    must not depend on the machine's speed), and the suite's timeout stops a parser that never returns."""
    _check_text(text)
    assert len(reply_text.new_text(text)) <= reply_mime.MAX_TEXT


def test_pathological_html_is_read_small() -> None:
    message = EmailMessage()
    message.set_content("<blockquote type=cite><div>deep" * 20_000, subtype="html")
    body = reply_text.body_text(message)
    assert len(body) <= reply_mime.MAX_TEXT and "deep" in body
