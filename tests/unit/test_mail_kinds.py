"""The email kinds are known in one place: the templates, `coachd preview` and reply tokens agree with MailKind."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from click.testing import CliRunner

from coachd.cli.commands import main
from coachd.mail import builtin_templates_dir
from coachd.mail.compose import PARTS
from coachd.model.actions import QueueMail
from coachd.model.mail_kinds import EXPECTS_ANSWER, MailKind, expects_answer, is_final_report
from coachd.model.types import Attendee, Role

WIRE = ("invitation", "update", "cancellation", "agenda", "notes-request", "summary", "feedback-request",
        "feedback-reminder", "goal-check-in", "check-in", "digest", "review", "wrap-up")


def test_the_kinds_on_the_wire_are_the_ones_documented() -> None:
    """The X-Coachd-Kind values of DESIGN.md section 5, in order: an enum member renamed keeps its value."""
    assert [kind.value for kind in MailKind] == list(WIRE)
    assert [f"{kind}" for kind in MailKind] == list(WIRE)


def test_every_template_folder_is_a_kind_and_every_kind_has_one() -> None:
    folders = {p.name for p in builtin_templates_dir().iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders == {kind.value for kind in MailKind}
    for kind in MailKind:
        missing = [part for part in PARTS if not (builtin_templates_dir() / kind.value / part).is_file()]
        assert not missing, f"templates/email/{kind}/ lacks {missing}"


def test_preview_offers_exactly_the_kinds() -> None:
    kind = next(p for p in main.commands["preview"].params if p.name == "kind")
    assert isinstance(kind.type, click.Choice)
    assert list(kind.type.choices) == [k.value for k in MailKind]


def test_preview_names_an_unknown_kind_and_the_known_ones(tmp_path) -> None:
    result = CliRunner().invoke(main, ["preview", "config/example.yaml", "agendum", "--state", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown email kind 'agendum'; known: " + ", ".join(WIRE) in result.output


def test_assigning_a_reply_offers_only_the_kinds_that_ask_for_an_answer(tmp_path) -> None:
    result = CliRunner().invoke(main, ["inbox", "config/example.yaml", "--state", str(tmp_path), "--assign", "1",
                                       "--person", "zoe", "--kind", "digest"])
    assert result.exit_code == 2
    assert "'digest' asks for no answer; one of " + ", ".join(sorted(EXPECTS_ANSWER)) in result.output


def test_the_final_report_is_told_from_the_wrap_up_survey_by_its_session() -> None:
    """Both go out as wrap-up; the survey after a team's wrap-up session asks, the report on the program does not."""
    sponsor = Attendee("dana", "Dana", "dana@example.org", "Europe/Berlin", Role.SPONSOR)
    due = datetime(2027, 12, 20, 8, tzinfo=UTC)
    report = QueueMail("p", MailKind.WRAP_UP, sponsor, "wrap-up-report", due, period=(due, due))
    assert is_final_report(report.kind, report.session_id) and not expects_answer(report.kind, report.session_id)
    survey_session = "coachd-p-wrapup@example.org/20271213T150000Z"
    assert not is_final_report(MailKind.WRAP_UP, survey_session) and expects_answer(MailKind.WRAP_UP, survey_session)
    # Kinds are read back from the store as plain strings: they answer the same.
    assert expects_answer("wrap-up", survey_session) and not expects_answer("wrap-up", None)
    assert expects_answer("feedback-request", survey_session) and not expects_answer("digest", None)
