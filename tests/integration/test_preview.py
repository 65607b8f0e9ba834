"""`coachd preview`: one email as it would go out, from the config (and state, if any)."""

from __future__ import annotations

from pathlib import Path

from datetime import datetime, timezone

from click.testing import CliRunner

from coachd.reporting.charts import trend_charts
from coachd.cli.commands import main
from coachd.mail import Composer, Envelope
from coachd.mail.samples import sample_context
from coachd.reporting.preview import browsable_html

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"


def invoke(*args: str):
    return CliRunner().invoke(main, ["preview", str(EXAMPLE), *args], catch_exceptions=False)


def test_an_agenda_preview_shows_headers_and_text_in_the_recipients_zone(tmp_path):
    state = tmp_path / "never-used"
    result = invoke("agenda", "--state", str(state), "--at", "2027-01-10", "--to", "ben")
    assert result.exit_code == 0, result.output
    assert "To: Ben Carter <ben@northwind.example>" in result.output
    assert "X-Coachd-Kind: agenda" in result.output and "GMT" in result.output  # London's time, with its zone
    assert "ACCOUNTABILITY QUESTIONS" in result.output
    assert not state.exists()  # a preview writes nothing


def test_html_goes_to_a_file_and_a_session_can_be_named(tmp_path):
    first = invoke("summary", "--state", str(tmp_path / "s"), "--at", "2027-01-10")
    session = next(line.split(": ", 1)[1] for line in first.output.splitlines() if line.startswith("X-Coachd-Session"))
    html = tmp_path / "summary.html"
    result = invoke("summary", "--state", str(tmp_path / "s"), "--at", "2027-01-10", "--session", session.strip(),
                    "--html", str(html))
    assert result.exit_code == 0, result.output
    assert html.read_text().lstrip().lower().startswith("<!doctype html")


def test_a_digest_goes_to_the_sponsor():
    result = invoke("digest", "--at", "2027-02-01")
    assert result.exit_code == 0, result.output
    assert "dana@northwind.example" in result.output


def test_bad_input_is_a_clear_error():
    unknown_kind = invoke("agendum")
    assert unknown_kind.exit_code == 2 and "unknown email kind 'agendum'" in unknown_kind.stderr
    unknown_session = invoke("agenda", "--session", "nope/20270101T000000Z", "--at", "2027-01-10")
    assert unknown_session.exit_code == 2 and "no session 'nope/20270101T000000Z'" in unknown_session.stderr
    stranger = invoke("agenda", "--to", "dana", "--at", "2027-01-10")
    assert stranger.exit_code == 2 and "'dana' does not attend" in stranger.stderr
    nobody = invoke("agenda", "--to", "zed", "--at", "2027-01-10")
    assert nobody.exit_code == 2 and "not a person in the config" in nobody.stderr
    for result in (unknown_kind, unknown_session, stranger, nobody):
        assert "Traceback" not in result.output


def test_a_review_pack_and_the_wrap_up_survey_and_report_can_be_previewed():
    review = invoke("review", "--at", "2027-03-25")
    assert review.exit_code == 0, review.output
    assert "To: Dana Whitfield" in review.output and "X-Coachd-Kind: review" in review.output
    assert "QUESTIONS FOR THE REVIEW" in review.output
    coach = invoke("review", "--at", "2027-03-25", "--to", "kenji")
    assert coach.exit_code == 0 and "To: Kenji Sato" in coach.output, "the coaches are in the review too"
    report = invoke("wrap-up", "--at", "2027-12-24")
    assert report.exit_code == 0 and "final report" in report.output and "WRAP-UP SURVEY" in report.output
    # The error for an unknown session lists the wrap-up sessions: take the EMEA team's from it.
    wrapup = invoke("wrap-up", "--at", "2027-12-10", "--session", "nope/20271213T110000Z")
    assert wrapup.exit_code == 2 and "wrapup-emea@northwind.example/" in wrapup.stderr
    session = next(word for word in wrapup.stderr.split() if "wrapup-emea" in word).rstrip(",")
    survey = invoke("wrap-up", "--at", "2027-12-10", "--session", session, "--to", "claire")
    assert survey.exit_code == 0, survey.output
    assert "To: Claire Dubois" in survey.output and "What did you learn?" in survey.output


def test_the_html_preview_shows_the_charts_inline():
    context = sample_context("digest")
    context["charts"] = trend_charts(context["history"])
    envelope = Envelope(key="k", sender_name="Office", sender_email="office@example.com",
                        date=datetime(2027, 2, 1, tzinfo=timezone.utc))
    message = Composer().compose("digest", context["recipient"], context, envelope)
    html = browsable_html(message)
    assert "cid:" not in html and html.count('src="data:image/png;base64,') == len(context["charts"]) >= 1
