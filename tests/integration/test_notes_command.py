"""`coachd notes`: a coach's notes from a file feed the session's summary, like a reply would."""

from __future__ import annotations

from click.testing import CliRunner

from coachd.cli.commands import main
from tests.support.simulation import EXAMPLE, read_mail, simulate


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_notes_from_a_file_reach_the_summary(tmp_path):
    out = tmp_path / "out"
    simulate("--until", "2027-01-12", "--out", str(out))  # Monday's sessions held, their summaries not yet due
    requests = [m for m in read_mail(out) if m["X-Coachd-Kind"] == "notes-request"]
    summarised = {str(m["X-Coachd-Session"]) for m in read_mail(out) if m["X-Coachd-Kind"] == "summary"}
    session = next(str(m["X-Coachd-Session"]) for m in requests if str(m["X-Coachd-Session"]) not in summarised)
    notes = tmp_path / "notes.txt"
    notes.write_text("Conclusions:\n- Discovery calls are where deals stall\n"
                     "Actions:\n- Ben: book two discovery calls by 2027-01-22\n", encoding="utf-8")
    result = invoke("notes", str(EXAMPLE), session, str(notes), "--state", str(out))
    assert result.exit_code == 0, result.output
    assert "1 conclusion(s), 1 action(s)" in result.output and "Ben: book two discovery calls" in result.output
    again = invoke("notes", str(EXAMPLE), session, str(notes), "--state", str(out))
    assert "already recorded" in again.output
    simulate("--until", "2027-01-14", "--out", str(out))
    summaries = [m for m in read_mail(out) if m["X-Coachd-Kind"] == "summary" and m["X-Coachd-Session"] == session]
    assert summaries
    for message in summaries:
        text = message.get_body(("plain",)).get_content()
        assert "Discovery calls are where deals stall" in text and "book two discovery calls" in text


def test_bad_notes_input_is_a_clear_error(tmp_path):
    out = tmp_path / "out"
    simulate("--until", "2027-01-06", "--out", str(out))
    empty = tmp_path / "empty.txt"
    empty.write_text("We talked a lot.\n")
    session = str(next(m for m in read_mail(out) if m["X-Coachd-Session"])["X-Coachd-Session"])
    no_format = invoke("notes", str(EXAMPLE), session, str(empty), "--state", str(out))
    assert no_format.exit_code == 2 and "Conclusions:" in no_format.stderr
    missing = invoke("notes", str(EXAMPLE), session, str(tmp_path / "nope.txt"), "--state", str(out))
    assert missing.exit_code == 2 and "nope.txt" in missing.stderr
    wrong = invoke("notes", str(EXAMPLE), "nope/20270101T000000Z", str(empty.with_name("x.txt")), "--state", str(out))
    assert wrong.exit_code == 2
    good = tmp_path / "good.txt"
    good.write_text("Conclusions:\n- fine\n")
    unknown = invoke("notes", str(EXAMPLE), "nope/20270101T000000Z", str(good), "--state", str(out))
    assert unknown.exit_code == 2 and "no session 'nope/20270101T000000Z'" in unknown.stderr
