"""What an agenda carries, from the config and from what people sent back: questions and topics."""

from __future__ import annotations

import email.utils
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from coachd.cli.commands import main
from tests.support.simulation import EXAMPLE, read_mail, reply_to, simulate

ROOT = Path(__file__).resolve().parents[2]


def agendas(out: Path, series_part: str):
    return [m for m in read_mail(out) if m["X-Coachd-Kind"] == "agenda" and series_part in str(m["X-Coachd-Series"])]


def test_the_config_can_replace_the_question_bank(tmp_path):
    config = tmp_path / "questions.yaml"
    config.write_text(EXAMPLE.read_text().replace(
        "  agenda:   {before: 24h}",
        "  agenda:   {before: 24h, questions: ['Which deal did you move forward?', 'Who did you coach this week?']}")
        .replace("busy: calendars/", f"busy: {ROOT / 'config' / 'calendars'}/"))
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["simulate", str(config), "--until", "2027-01-20", "--out", str(out)]).exit_code == 0
    texts = [m.get_body(("plain",)).get_content() for m in read_mail(out) if m["X-Coachd-Kind"] == "agenda"]
    assert texts and all("Which deal did you move forward?" in t for t in texts)
    assert not any("did you do it?" in t for t in texts)  # not the built-in bank


def test_topics_sent_back_on_an_agenda_are_on_the_next_one(tmp_path):
    first = tmp_path / "first"
    simulate("--until", "2027-01-19", "--out", str(first))
    group = agendas(first, "-group-americas@")
    asked = next(m for m in group if "ben@" in str(m["To"]))
    replies = tmp_path / "replies"
    replies.mkdir()
    at = email.utils.parsedate_to_datetime(str(asked["Date"])) + timedelta(hours=3)
    (replies / "topic.eml").write_bytes(reply_to(asked, "Could we go through the Contoso renewal pricing?", at))
    out = tmp_path / "out"
    simulate("--until", "2027-01-26", "--out", str(out), "--replies", str(replies))
    later = [m for m in agendas(out, "-group-americas@")
             if m["X-Coachd-Session"] != asked["X-Coachd-Session"]
             and email.utils.parsedate_to_datetime(str(m["Date"])) > at]
    assert later
    for message in later:
        text = message.get_body(("plain",)).get_content()
        assert "Contoso renewal pricing" in text and "Ben Carter" in text
