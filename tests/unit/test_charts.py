"""Sponsor trend charts: real, deterministic images with gaps kept, inline in the digest email with a text fallback."""

from __future__ import annotations

import email
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from coachd.reporting.charts import Chart, trend_charts
from coachd.mail import Composer, Envelope
from coachd.mail.headers import assemble_bytes
from coachd.mail.samples import DANA, sample_context
from tests.support.chart_golden import GOLDEN, WEEKS, history, mime_structure, png_digests, same_drawing_libraries

CID = re.compile(r"cid:([^\"'\s>]+)")


@pytest.fixture(scope="module")
def charts() -> list[Chart]:
    return trend_charts(history())


def envelope(**changes: Any) -> Envelope:
    return Envelope(key="digest:northwind-2027/2027-05-17/dana", sender_name="Northwind Coaching Office",
                    sender_email="coaching@northwind.example", date=datetime(2027, 5, 24, 13, 0, tzinfo=timezone.utc),
                    **changes)


@pytest.fixture(scope="module")
def composer(tmp_path_factory: pytest.TempPathFactory) -> Composer:
    """The built-in digest with figures that are only the chart partials (an admin folder with its
    own _figures.*), so these tests do not depend on the rest of the figures."""
    folder = tmp_path_factory.mktemp("templates")
    for suffix in ("html", "txt"):
        (folder / f"_figures.{suffix}").write_text(f'{{% include "_charts.{suffix}" %}}\n', encoding="utf-8")
    return Composer(folder)


def digest(composer: Composer, charts: list[Chart], **changes: Any) -> EmailMessage:
    context = {**sample_context("digest"), "history": history(), "charts": charts}
    raw = composer.compose_bytes("digest", DANA, context, envelope(**changes)).raw
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


# --- the charts -------------------------------------------------------------------------------


def test_a_realistic_history_draws_attendance_and_rating_as_real_pngs(charts: list[Chart]) -> None:
    from PIL import Image

    assert [c.name for c in charts] == ["attendance", "rating"]
    for chart in charts:
        assert chart.mime == "image/png" and chart.filename == f"{chart.name}.png"
        assert chart.data.startswith(b"\x89PNG\r\n\x1a\n")
        image = Image.open(io.BytesIO(chart.data))
        image.verify()
        width, height = image.size
        assert width == 1088 and 440 <= height <= 600  # 544 px shown, drawn at 2x for retina screens
        assert re.fullmatch(rf"{chart.name}\.[0-9a-f]{{12}}@coachd", chart.cid)
        assert b"Software" not in chart.data and b"tEXt" not in chart.data  # no tool or date stamped in
        assert len(chart.data) < 60_000  # a palette PNG, small enough for every sponsor's inbox
    assert charts[0].alt.startswith("Attendance per team, weekly from 4 Jan to 17 May 2027; latest: ")
    assert "Americas Enterprise 90% (week of 17 May)" in charts[0].alt
    assert "APAC Growth" in charts[0].alt and "EMEA Field" in charts[0].alt
    assert "Americas Enterprise 3.9 of 5 (week of 10 May)" in charts[1].alt  # the last week was suppressed
    assert "none recorded" in charts[1].alt and charts[1].alt.endswith(".")


# Another matplotlib or Pillow draws the same chart with other bytes: the pictures are compared only
# with the versions they were recorded with (tests/fixtures/charts/drawn-with.json); CI installs the same.
golden_pictures = pytest.mark.skipif(not same_drawing_libraries(),
                                     reason="matplotlib or Pillow differ from tests/fixtures/charts/drawn-with.json")


@golden_pictures
def test_the_same_history_gives_the_bytes_recorded_in_another_process(charts: list[Chart]) -> None:
    """Golden files made by `python -m tests.support.chart_golden` (see there when to regenerate them)."""
    recorded = json.loads((GOLDEN / "png-sha256.json").read_text(encoding="utf-8"))
    assert png_digests(charts) == recorded, "the PNGs changed: regenerate the golden files only if meant"
    assert [c.cid for c in charts] == [f"{c.name}.{recorded[c.filename][:12]}@coachd" for c in charts]
    changed = history()
    changed["teams"][0]["attendance"][-1] = 0.5
    assert trend_charts(changed)[0].cid != charts[0].cid  # a new picture gets a new Content-ID
    assert trend_charts(changed)[1].cid == charts[1].cid


@golden_pictures
def test_the_svg_variant_is_well_formed_and_the_same_as_recorded() -> None:
    svgs = trend_charts(history(), fmt="svg")
    assert [(c.name, c.mime, c.filename) for c in svgs] == [
        ("attendance", "image/svg+xml", "attendance.svg"), ("rating", "image/svg+xml", "rating.svg")]
    for chart in svgs:
        assert ET.fromstring(chart.data).tag == "{http://www.w3.org/2000/svg}svg"
        assert b"<dc:date>" not in chart.data
        golden = (GOLDEN / chart.filename).read_text(encoding="utf-8").splitlines()
        assert chart.data.decode().splitlines() == golden, f"{chart.filename} differs from {GOLDEN / chart.filename}"
    with pytest.raises(ValueError, match="format"):
        trend_charts(history(), fmt="gif")  # type: ignore[arg-type]


def test_a_missing_week_is_joined_over_never_a_zero() -> None:
    weeks = WEEKS[:5]
    chart, = trend_charts({"weeks": weeks, "teams": [
        {"id": "a", "name": "A", "attendance": [0.5, 0.6, None, 0.7, 0.8], "rating": [None] * 5}]}, fmt="svg")
    paths = re.findall(r'<g id="line2d_\d+">\s*<path d="([^"]*)"', chart.data.decode())
    (line,) = [d for d in paths if d.count("L") == 3]  # the team's line: one run through its four values
    assert line.count("M") == 1
    points = [(float(x), float(y)) for x, y in re.findall(r"([\d.]+) ([\d.]+)", line)]
    grid = sorted({float(y) for d in paths if d.count("L") == 1 for _, y in re.findall(r"([\d.]+) ([\d.]+)", d)})
    zero = grid[-1]  # the lowest gridline (SVG y grows downwards): 0 %
    assert len(points) == 4 and all(y < zero - 1 for _, y in points)


def _pixels_near(chart: Chart, colour: str, tolerance: int = 40) -> int:
    """How many pixels of the chart are drawn in (about) `colour`."""
    from PIL import Image

    target = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    image = Image.open(io.BytesIO(chart.data)).convert("RGB")
    return sum(count for count, rgb in image.getcolors(maxcolors=1 << 16) or []
               if all(abs(a - b) <= tolerance for a, b in zip(rgb, target)))


BLUE, ORANGE = "#0072B2", "#E69F00"  # the first two teams' colours


def _attendance(teams: dict[str, list[float | None]]) -> Chart:
    weeks = WEEKS[: len(next(iter(teams.values())))]
    return trend_charts({"weeks": weeks, "teams": [{"id": name, "name": name, "attendance": values,
                                                   "rating": [None] * len(weeks)} for name, values in teams.items()]})[0]


def test_two_teams_with_the_same_values_are_both_visible() -> None:
    full = [1.0] * 20
    alone = _pixels_near(_attendance({"A": full}), BLUE)
    both = _attendance({"A": full, "B": full})
    # The first team keeps a good part of what it shows alone (its legend entry is a small part of it).
    assert _pixels_near(both, BLUE) > 0.3 * alone
    assert _pixels_near(both, ORANGE) > 0.3 * alone


def test_a_team_meeting_every_two_weeks_has_a_line_not_lone_markers() -> None:
    weekly = _pixels_near(_attendance({"A": [0.9] * 20}), BLUE)
    fortnightly = _pixels_near(_attendance({"A": [0.9 if i % 2 == 0 else None for i in range(20)]}), BLUE)
    assert fortnightly > 0.7 * weekly  # the same line, half the markers


@pytest.mark.parametrize("empty", [None, {}, {"weeks": [], "teams": []}, {"weeks": WEEKS, "teams": []},
                                   {"weeks": [], "teams": history()["teams"]}])
def test_an_empty_history_draws_nothing(empty: Any) -> None:
    assert trend_charts(empty) == []


def test_a_metric_without_any_value_gives_no_chart() -> None:
    unrated = history()
    for team in unrated["teams"]:
        team["rating"] = [None] * len(WEEKS)
    unrated["teams"][1]["attendance"] = [None] * len(WEEKS)  # a team never met: left out, no error
    del unrated["teams"][2]["rating"]
    (chart,) = trend_charts(unrated)
    assert chart.name == "attendance" and "APAC Growth none recorded" in chart.alt
    nothing = {"weeks": WEEKS, "teams": [{"id": "a", "name": "A", "attendance": [None] * 20, "rating": [None] * 20}]}
    assert trend_charts(nothing) == []
    one_week = trend_charts({"weeks": WEEKS[:1], "teams": [{"id": "a", "name": "A", "attendance": [1.0], "rating": [4.0]}]})
    assert [c.name for c in one_week] == ["attendance", "rating"]


def test_values_for_other_weeks_than_the_history_has_are_refused() -> None:
    broken = history()
    broken["teams"][0]["attendance"] = broken["teams"][0]["attendance"][:-1]
    with pytest.raises(ValueError, match="19 attendance values for 20 weeks"):
        trend_charts(broken)


def test_importing_charts_or_mail_does_not_import_matplotlib() -> None:
    code = "import sys, coachd.reporting.charts, coachd.mail; assert 'matplotlib' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# --- the partials -----------------------------------------------------------------------------


def test_the_partials_render_nothing_without_charts_or_history() -> None:
    env = Composer().env
    for name in ("_charts.html", "_charts.txt"):
        template = env.get_template(name)
        assert template.render().strip() == ""
        assert template.render(charts=[], history=None).strip() == ""
        assert template.render(charts=None, history={"weeks": [], "teams": []}).strip() == ""
    silent = {"weeks": WEEKS, "teams": [{"id": "a", "name": "A", "attendance": [None] * 20, "rating": [None] * 20}]}
    assert env.get_template("_charts.txt").render(history=silent).strip() == ""


def test_the_html_partial_shows_each_chart_by_content_id_with_its_alt_text(charts: list[Chart]) -> None:
    html = Composer().env.get_template("_charts.html").render(charts=charts)
    assert CID.findall(html) == [c.cid for c in charts]
    assert html.index(charts[0].title) < html.index(charts[0].cid)  # the title above its chart
    assert 'width="544"' in html and "max-width:544px" in html
    assert "EMEA Field &lt;Sales&gt; &amp; &#34;Ops&#34;" in html  # the alt text is escaped
    assert "<Sales>" not in html


def test_the_text_partial_is_a_table_of_the_last_eight_weeks() -> None:
    text = Composer().env.get_template("_charts.txt").render(history=history())
    lines = text.splitlines()
    assert lines[0] == "", "set apart from the table above it"
    lines = lines[1:]
    assert lines[0] == "ATTENDANCE AND FEEDBACK, LAST 8 WEEKS"
    assert all(len(line) < 78 for line in lines)
    assert lines[1].split() == ["Attendance", "29", "Mar", "5", "Apr", "12", "Apr", "19", "Apr", "26", "Apr",
                                "3", "May", "10", "May", "17", "May"]
    americas = [line for line in lines if line.startswith("Americas Enterprise")]
    assert americas[0][20:].split() == ["95%", "-", "90%", "75%", "85%", "95%", "80%", "90%"]
    assert americas[1][20:].split() == ["4.5", "-", "4.3", "3.7", "4.1", "4.5", "3.9", "-"]
    emea = [line for line in lines if line.startswith("EMEA Field")]
    assert emea[1][20:].split() == ["-"] * 8
    short = Composer().env.get_template("_charts.txt").render(
        history={"weeks": WEEKS[:2], "teams": [{"id": "a", "name": "A", "attendance": [None, 0.5]}]})
    assert "LAST 2 WEEKS" in short and short.splitlines()[3].split() == ["A", "-", "50%"]
    assert short.splitlines()[6].split() == ["A", "-", "-"]  # no ratings at all: gaps, not an error


# --- the email --------------------------------------------------------------------------------


def test_the_digest_carries_its_charts_as_inline_images(composer: Composer, charts: list[Chart]) -> None:
    message = digest(composer, charts)
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related" and related.get_param("type") == "text/html"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert [i.get_content_type() for i in images] == ["image/png", "image/png"]
    referenced = CID.findall(html.get_content())
    by_id = {str(i["Content-ID"]).strip("<>"): i for i in images}
    assert sorted(set(referenced)) == sorted(by_id) == sorted(c.cid for c in charts)
    for chart in charts:
        part = by_id[chart.cid]
        assert part["Content-Transfer-Encoding"] == "base64"
        assert part.get_content_disposition() == "inline" and part.get_filename() == chart.filename
        assert part.get_param("name") == chart.filename
        assert part.get_content() == chart.data
    text = plain.get_content()
    assert "ATTENDANCE AND FEEDBACK, LAST 8 WEEKS" in text and "Americas Enterprise" in text


def test_with_an_ics_the_alternative_is_wrapped_in_mixed(composer: Composer, charts: list[Chart]) -> None:
    ics = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    message = digest(composer, charts, ics=ics)
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "multipart/related", "text/calendar"]
    assert attachment.get_filename() == "invite.ics"
    boundaries = [p.get_boundary() for p in message.walk() if p.is_multipart()]
    assert len(set(boundaries)) == 3 and all(b.startswith("=_coachd_") for b in boundaries)


def test_charts_the_html_does_not_show_are_left_out(tmp_path: Path, charts: list[Chart]) -> None:
    """An admin who drops the charts from the HTML gets no stray attachments."""
    (tmp_path / "_figures.html").write_text("<p>Figures without charts.</p>\n", encoding="utf-8")
    (tmp_path / "_figures.txt").write_text('{% include "_charts.txt" %}\n', encoding="utf-8")
    silent = Composer(tmp_path)
    context = {**sample_context("digest"), "history": history()}
    with_charts = silent.compose_bytes("digest", DANA, {**context, "charts": charts}, envelope()).raw
    assert with_charts == silent.compose_bytes("digest", DANA, context, envelope()).raw
    assert b"multipart/related" not in with_charts


def test_an_email_without_charts_keeps_the_shape_recorded_before(composer: Composer) -> None:
    """Charts change nothing for mail without them: the digest's MIME shape (headers in order, parts, types,
    encodings) is the one recorded in tests/fixtures/charts (see tests/support/chart_golden.py)."""
    context = sample_context("digest")
    raw = composer.compose_bytes("digest", DANA, context, envelope()).raw
    recorded = json.loads((GOLDEN / "digest-without-charts.json").read_text(encoding="utf-8"))
    assert mime_structure(raw) == recorded
    assert [p["type"] for p in recorded] == ["multipart/alternative", "text/plain", "text/html"]
    rendered = composer.render("digest", DANA, context)
    assert assemble_bytes("digest", DANA, rendered.subject, rendered.text, rendered.html, envelope(), ()) == raw
    assert composer.compose_bytes("digest", DANA, {**context, "charts": []}, envelope()).raw == raw


def test_the_same_digest_with_charts_gives_the_same_bytes_as_the_stock_generator(
        composer: Composer, charts: list[Chart], monkeypatch: pytest.MonkeyPatch) -> None:
    from coachd.mail import headers

    context = {**sample_context("digest"), "history": history(), "charts": charts}
    ours = composer.compose_bytes("digest", DANA, context, envelope()).raw
    assert composer.compose_bytes("digest", DANA, context, envelope()).raw == ours
    monkeypatch.setattr(headers, "wire_bytes", lambda msg: msg.as_bytes(policy=headers.WIRE))
    assert composer.compose_bytes("digest", DANA, context, envelope()).raw == ours
    assert all(len(line) <= 998 for line in ours.split(b"\r\n"))
    assert all(byte < 128 for byte in ours)
