"""The reply parser's speed: typical replies and hostile input (moved out of the unit tests, issue 15 point 7).

A test must not depend on the machine's speed, so the unit tests check what the parser returns and how much
it decodes; the times are measured here. Cases, each timed as the best of --repeat runs (the least disturbed
by other work on the machine):
  typical            four corpus replies (Gmail, Outlook cp1252, Apple Mail, Thunderbird) read as the inbox
                     reads them (body, new text, feedback, notes): time per reply, target under 2 ms
  text-25mb          a 25 MB quoted-printable text body: decoded up to the bound, rating read; target 2 s
  attachment-25mb    a 25 MB attachment beside a short reply: never decoded; target 1 s
  calendar-25mb      a 25 MB calendar attachment: read up to its bound; target 2 s
  nested-5000        multiparts nested 5,000 deep; target 1 s
  pathological-*     texts that make naive header and quote rules backtrack; target 3 s each
  html-deep          20,000 nested blockquotes in HTML; target 3 s
Prints seconds (or ms per reply) and the ratio to each target; exits 1 if any case misses its target.
Run: .venv/bin/python benchmarks/bench_reply_parser.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))

from coachd.replies import mime as reply_mime
from coachd.replies import reading as reply_text

CORPUS = ROOT / "tests" / "replies"
TYPICAL = ("gmail_en_feedback_top", "outlook_desktop_en_feedback_cp1252", "apple_ios_fr_feedback_lines",
           "thunderbird_de_notes")
PATHOLOGICAL = {
    "x-300k": "x" * 300_000,
    "near-miss-on-wrote": ("On " + "a " * 140 + "1 wrote\n") * 2_000,
    "near-miss-a-ecrit": ("Le " + "é" * 250 + " 1 a écrit\n") * 2_000,
    "from-lines": "From: a\n" * 30_000,
    "quote-marks": "> " * 100_000,
    "action-dates": ("- Ana: do it by " + "1 " * 100 + "\n") * 1_000,
    "long-rating": "Rating: " + "4" * 200_000,
    "blockquote-text": "<blockquote type=cite>" * 20_000 + "text",
}


def read_text(text: str) -> None:
    """What the inbox does with a reply's text, every reader included."""
    reply_text.new_text(text)
    reply_text.feedback(text)
    reply_text.rating(text)
    reply_text.coach_notes(text)
    reply_text.topics(text)


def with_attachment(size: int, content_type: str, filename: str) -> bytes:
    blob = base64.encodebytes(b"\x00\x01binary" * (size // 8))
    return (b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
            b"Rating: 5\r\n\r\n--b\r\nContent-Type: " + content_type.encode() + b'\r\nContent-Disposition: attachment; '
            b'filename="' + filename.encode() + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + blob + b"\r\n--b--\r\n")


def nested(depth: int) -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return b"From: a@b.example\r\nMIME-Version: 1.0\r\n" + opening + b"Content-Type: text/plain\r\n\r\nRating: 4\r\n" + closing


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    missed = 0

    def report(name: str, seconds: float, target: float, unit: str = "s") -> None:
        nonlocal missed
        scale = 1000 if unit == "ms" else 1
        ratio = seconds / target
        missed += ratio > 1
        print(f"{name:36} {seconds * scale:9.3f} {unit:2}  ratio {ratio:5.2f} to {target * scale:g} {unit}"
              + ("  MISSED" if ratio > 1 else ""))

    messages = [reply_text.parse_message((CORPUS / f"{name}.eml").read_bytes()) for name in TYPICAL]
    rounds = 50

    def typical() -> None:
        for _ in range(rounds):
            for message in messages:
                text = reply_text.new_text(reply_text.body_text(message))
                reply_text.feedback(text)
                reply_text.coach_notes(text)

    report("typical (per reply)", best(typical, args.repeat) / (rounds * len(messages)), 0.002, "ms")

    text_25mb = (b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                 + b"Rating: 4 =E2=80=93 fine\r\n" * (25 * 1024 * 1024 // 24))
    report("text-25mb", best(lambda: reply_text.rating(reply_text.body_text(reply_text.parse_message(text_25mb))),
                             args.repeat), 2.0)
    attachment = reply_text.parse_message(with_attachment(25 * 1024 * 1024, "application/pdf", "deck.pdf"))
    report("attachment-25mb", best(lambda: (reply_text.new_text(reply_text.body_text(attachment)),
                                            reply_text.itip_reply(attachment)), args.repeat), 1.0)
    calendar = reply_text.parse_message(with_attachment(25 * 1024 * 1024, "text/calendar; method=REPLY", "invite.ics"))
    report("calendar-25mb", best(lambda: reply_text.itip_reply(calendar), args.repeat), 2.0)
    deep = nested(5_000)
    report("nested-5000", best(lambda: read_text(reply_text.body_text(reply_text.parse_message(deep))), args.repeat), 1.0)
    for name, text in PATHOLOGICAL.items():
        report(f"pathological-{name}", best(lambda text=text: read_text(text), args.repeat), 3.0)
    html = EmailMessage()
    html.set_content("<blockquote type=cite><div>deep" * 20_000, subtype="html")
    report("html-deep", best(lambda: len(reply_text.body_text(html)) <= reply_mime.MAX_TEXT, args.repeat), 3.0)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
