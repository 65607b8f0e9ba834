"""Running `coachd simulate` on the example program and reading back what it wrote."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path

from click.testing import CliRunner

from coachd.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]


EXAMPLE = ROOT / "config" / "example.yaml"


def simulate(*args: str):
    result = CliRunner().invoke(main, ["simulate", str(EXAMPLE), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def read_mail(out: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((out / "mail").glob("*.eml"))
    ]


def reply_to(message: EmailMessage, body: str, at: datetime, sender: str | None = None) -> bytes:
    reply = EmailMessage()
    to_name, to_addr = getaddresses([str(message["To"])])[0]
    reply["From"] = sender or f"{to_name} <{to_addr}>"
    reply["To"] = str(message["From"])
    reply["Subject"] = f"Re: {message['Subject']}"
    reply["Date"] = format_datetime(at)
    reply["Message-ID"] = make_msgid(domain="mail.example")
    reply["In-Reply-To"] = str(message["Message-ID"])
    reply["References"] = str(message["Message-ID"])
    reply.set_content(body + "\n\nOn Tue, someone wrote:\n> quoted request text 5/5\n")
    return bytes(reply)
