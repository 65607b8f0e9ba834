"""A large reply is stored as its headers and the parts it is read from, and reads the same."""

from __future__ import annotations

import base64
import os

from coachd.replies import reading
from coachd.replies.trim import MAX_KEPT_BYTES, NOTE_HEADER, kept_message


def with_attachment(body: str, attachment: bytes, *, html: str | None = None, calendar: str | None = None) -> bytes:
    encoded = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    parts = [b"--mix\r\nContent-Type: text/plain; charset=iso-8859-1; format=flowed\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + body.encode("latin-1") + b"\r\n"]
    if html is not None:
        parts.append(b"--mix\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html.encode() + b"\r\n")
    if calendar is not None:
        parts.append(b"--mix\r\nContent-Type: application/ics; name=invite.ics\r\n"
                     b"Content-Disposition: attachment; filename=invite.ics\r\n\r\n" + calendar.encode() + b"\r\n")
    parts.append(b"--mix\r\nContent-Type: application/pdf; name=deck.pdf\r\nContent-Transfer-Encoding: base64\r\n"
                 b"Content-Disposition: attachment; filename=deck.pdf\r\n\r\n" + encoded)
    return (b"From: Finn <finn@mini.example>\r\nTo: reply+abc@coach.example\r\nSubject: Re: How was it?\r\n"
            b"Message-ID: <big@client.example>\r\nReceived: from a\r\n  by b; Fri, 08 Jan 2027 10:00:00 +0000\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=mix\r\n\r\n"
            + b"".join(parts) + b"--mix--\r\n")


def test_a_small_message_is_kept_byte_for_byte():
    raw = with_attachment("Rating: 4", b"x" * 1000)
    assert kept_message(raw) is raw


def test_a_large_attachment_is_dropped_and_noted_and_the_reply_reads_the_same():
    body = "Rating: 4 caf=E9\r\nMore role plays"
    calendar = ("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20270105T100000Z\r\n"
                "ATTENDEE;PARTSTAT=DECLINED:mailto:finn@mini.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    raw = with_attachment(body, os.urandom(30 * 1024 * 1024 // 4 * 3), html="<p>Rating: 4</p>", calendar=calendar)
    assert len(raw) > 30 * 1024 * 1024
    kept = kept_message(raw)
    assert len(kept) < 64 * 1024
    whole, small = reading.parse_message(raw), reading.parse_message(kept)
    assert reading.body_text(small).rstrip("\n") == reading.body_text(whole).rstrip("\n")  # a part ends a line
    assert "café" in reading.body_text(small)
    assert reading.itip_reply(small) == reading.itip_reply(whole) != []
    assert small["Message-ID"] == "<big@client.example>" and small["From"] == whole["From"]
    assert "by b;" in str(small["Received"])
    note = str(small[NOTE_HEADER])
    assert "stored 3 text parts of a 30.8 MB message; dropped 1 other part" in note and "application/pdf deck.pdf" in note


def test_a_large_message_with_nothing_to_read_keeps_its_headers_and_an_empty_text():
    raw = (b"From: x@y.example\r\nMessage-ID: <bin@y.example>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/octet-stream\r\n\r\n" + b"\0" * (MAX_KEPT_BYTES + 1))
    small = reading.parse_message(kept_message(raw))
    assert small["Message-ID"] == "<bin@y.example>"
    assert reading.body_text(small) == ""
    assert "dropped 1 other part (application/octet-stream)" in str(small[NOTE_HEADER])
