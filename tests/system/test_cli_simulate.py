"""`coachd simulate` with the inputs people get wrong: dates in the wrong order, and a --replies
folder holding things that are not replies. Each is said plainly; nothing crashes or vanishes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coachd.cli.commands import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"  # runs 2027-01-04 to 2027-12-17
REPLY = (b"From: Ana Souza <ana@northwind.example>\r\nTo: coaching@northwind.example\r\n"
         b"Subject: Re: agenda\r\nDate: %s\r\n\r\nThanks!\r\n")


def simulate(*args: str) -> Result:
    return CliRunner().invoke(main, ["simulate", str(EXAMPLE), *args], catch_exceptions=False)


@pytest.mark.parametrize(("args", "named"), [
    (("--from", "2027-02-01", "--until", "2027-01-20"), ("--from", "2027-02-01", "2027-01-20")),
    (("--until", "2027-01-01"), ("program's start", "2027-01-04", "2027-01-01")),
])
def test_an_until_before_the_start_names_both_dates(tmp_path, args, named):
    out = tmp_path / "out"
    result = simulate(*args, "--out", str(out))
    assert result.exit_code == 2
    assert all(text in result.stderr for text in named), result.stderr
    assert "Traceback" not in result.output
    assert not out.exists(), "nothing is started for a span that is empty"


def test_an_until_after_the_program_end_is_fine(tmp_path):
    out = tmp_path / "out"
    result = simulate("--from", "2027-12-13", "--until", "2028-01-05", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "simulated to 2028-01-05" in " ".join(result.output.split())
    assert list((out / "mail").glob("*.eml"))


def test_each_reply_file_that_cannot_be_delivered_is_named_with_its_reason(tmp_path):
    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "fine.eml").write_bytes(REPLY % b"Tue, 05 Jan 2027 10:00:00 -0300")
    (replies / "notes.txt").write_text("to do: write more replies\n")
    (replies / "older").mkdir()
    (replies / "scan.eml").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    (replies / "undated.eml").write_bytes(b"From: ana@northwind.example\r\nSubject: hi\r\n\r\nhello\r\n")
    (replies / "yesterday.eml").write_bytes(REPLY % b"yesterday")
    (replies / "zoneless.eml").write_bytes(REPLY % b"Tue, 05 Jan 2027 10:00:00 -0000")
    (replies / "gone.eml").symlink_to(tmp_path / "deleted.eml")
    (replies / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (replies / "README.md").write_text("These replies show ...\n")  # notes about the folder, not mail: no warning
    out = tmp_path / "out"
    result = simulate("--until", "2027-01-07", "--out", str(out), "--replies", str(replies))
    assert result.exit_code == 0, result.output
    reasons = {line.split(": ", 2)[1].rsplit("/", 1)[-1]: line for line in result.stderr.splitlines()
               if line.startswith("warning: ")}
    assert set(reasons) == {"notes.txt", "older", "scan.eml", "undated.eml", "yesterday.eml", "zoneless.eml",
                            "gone.eml"}, result.stderr
    assert "not an .eml file" in reasons["notes.txt"]
    assert "a folder" in reasons["older"]
    assert "not an email message" in reasons["scan.eml"]
    assert "no Date header" in reasons["undated.eml"]
    assert "'yesterday' is not a date" in reasons["yesterday.eml"]
    assert "has no time zone" in reasons["zoneless.eml"]
    assert "cannot read it (No such file or directory)" in reasons["gone.eml"]
    assert all(line.endswith("skipped") for line in reasons.values())
    assert "Traceback" not in result.output
    delivered = [p.name for sub in ("new", "cur") for p in (out / "inbox" / sub).iterdir()]
    assert len(delivered) == 1
