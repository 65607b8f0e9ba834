"""`coachd report`: the program's figures as JSON, CSV and one self-contained HTML page, for the
default period or --from/--until, and each input an admin gets wrong said in one line (issue 7 point 6)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from coachd.cli.commands import main
from coachd.config import load_config
from coachd.model.types import UTC
from coachd.reporting.figures import program_figures
from coachd.observe.observer import observe
from coachd.reporting import report as report_view
from coachd.observe.readonly import existing_store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"  # runs 2027-01-04 to 2027-12-17, America/Chicago
REPLIES = ROOT / "config" / "replies"  # Ana's three feedback replies, one of them with written answers
META = ("program", "generated_at", "period")
SECTIONS = ("Sessions", "Teams and attendance", "Feedback", "Action items", "Coaching time",
            "One-to-ones: days since the last one", "Outcomes agreed at the start", "What comes next", "Trends")


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    """Five weeks of the example program, with Ana's replies: the clock stops at midnight starting 8 Feb 2027 in Chicago."""
    out = tmp_path_factory.mktemp("report") / "sim"
    result = CliRunner().invoke(main, ["simulate", str(EXAMPLE), "--until", "2027-02-08", "--out", str(out),
                                       "--replies", str(REPLIES)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def report(state: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["report", str(EXAMPLE), "--state", str(state), *args], catch_exceptions=False)


def written(state: Path, out: Path, *args: str) -> Path:
    result = report(state, "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return out


def figures_for(cfg, state: Path, period: dict[str, str]) -> dict[str, Any]:
    """program_figures for the report's period, through the same JSON as the report."""
    start, end, now = (datetime.fromisoformat(period[k]) for k in ("start", "end", "as_of"))
    with existing_store(cfg, state) as store:
        assert store is not None
        figures = program_figures(cfg, observe(store, cfg.program.id), start, end, now)
    return json.loads(json.dumps(figures, default=report_view.iso))


def test_json_is_the_program_figures_for_the_program_so_far(cfg, sim, tmp_path):
    data = json.loads(written(sim, tmp_path / "report.json").read_text(encoding="utf-8"))
    assert list(data)[:3] == list(META)
    assert data["program"] == {"id": "northwind-2027", "name": "Northwind Sales Coaching 2027",
                               "timezone": "America/Chicago"}
    # From the program's start to the simulation's clock, in Chicago: the last whole day is 7 Feb.
    assert data["period"] == {"from": "2027-01-04", "until": "2027-02-07", "start": "2027-01-04T06:00:00Z",
                              "end": "2027-02-08T06:00:00Z", "as_of": "2027-02-08T06:00:00Z"}
    assert data["generated_at"].endswith("Z")
    assert {k: v for k, v in data.items() if k not in META} == figures_for(cfg, sim, data["period"])
    assert data["sessions"]["total"]["held"] > 0 and len(data["teams"]) == 3
    assert data["feedback"]["responses"] == 3 and data["feedback"]["suppressed"] is True
    assert data["feedback"]["average_rating"] is None, "one person's ratings are never averaged out loud"


def test_the_reports_never_carry_what_people_wrote(sim, tmp_path):
    texts = [written(sim, tmp_path / f"report.{fmt}").read_text(encoding="utf-8-sig") for fmt in ("json", "csv", "html")]
    for text in texts:
        for words in ("Less theory", "running over time", "ana@northwind.example"):
            assert words not in text


def test_csv_is_one_flat_table_with_the_json_values(sim, tmp_path):
    data = json.loads(written(sim, tmp_path / "report.json").read_text(encoding="utf-8"))
    with written(sim, tmp_path / "report.csv").open(encoding="utf-8-sig", newline="") as file:
        table = list(csv.reader(file))
    assert table[0] == ["section", "item", "metric", "value"]
    assert all(len(row) == 4 for row in table)
    cells = {(s, i, m): v for s, i, m, v in table[1:]}
    assert len(cells) == len(table) - 1, "no two rows for the same section, item and metric"
    for team in data["teams"]:
        assert cells["teams", team["name"], "attendance_rate"] == cell(team["attendance_rate"])
        assert cells["teams", team["name"], "held"] == str(team["held"])
    for key, value in data["feedback"]["trend"].items():
        assert cells["feedback", "trend", key] == cell(value)
    assert cells["feedback", "", "suppressed"] == "true" and cells["feedback", "", "average_rating"] == ""
    assert cells["sessions", "total", "planned"] == str(data["sessions"]["total"]["planned"])
    assert cells["period", "", "from"] == "2027-01-04"
    weeks = data["history"]["weeks"]
    for team in data["history"]["teams"]:
        for week, value in zip(weeks, team["attendance"]):
            assert cells["history", team["name"], f"attendance {week}"] == cell(value)
    # Every figure of every section is in the table, with the same value.
    for section in ("sessions", "teams", "feedback", "actions", "coaching", "consistency", "outcomes",
                    "goal_check_ins", "recognition"):
        expected = Counter((section, key, cell(value)) for key, value in leaves(data[section]))
        found = Counter((s, m, v) for (s, _, m), v in cells.items() if s == section)
        assert expected - found == Counter(), section


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return str(value)


def leaves(value: Any, key: str = ""):
    """(key, value) of every scalar or list of names under value; label fields name rows instead."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, k)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for row in value:
            label = next(k for k in report_view.LABEL_KEYS if isinstance(row.get(k), str))
            yield from leaves({k: v for k, v in row.items() if k != label})
    elif not (key == "rows" and value == []):  # no rows, no line; an empty list of names is an empty cell
        yield key, value


class Page(HTMLParser):
    """What a browser would need: headings, figures, and anything fetched or run."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self.svgs_in_figures = 0
        self.captions = 0
        self.fetched: list[str] = []
        self.scripts = 0
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)
        values = dict(attrs)
        if "id" in values:
            self.ids.append(values["id"] or "")
        if tag == "svg" and "figure" in self.stack[:-1]:
            self.svgs_in_figures += 1
        self.captions += tag == "figcaption"
        self.scripts += tag == "script"
        if tag in ("img", "link", "iframe", "object", "embed") or "src" in values:
            self.fetched.append(tag)
        for name in ("href", "xlink:href"):
            if (values.get(name) or "#").split("#")[0]:
                self.fetched.append(f"{tag} {name}={values[name]}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.stack and self.stack[-1] == "h2":
            self.headings.append(data.strip())


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_html_is_one_page_with_the_digest_sections_and_the_charts(sim, tmp_path):
    html = written(sim, tmp_path / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert page.headings == list(SECTIONS), "recognition is left out: the example does not allow naming people"
    assert page.svgs_in_figures >= 1 and page.captions == page.svgs_in_figures
    assert "Attendance per team" in html
    assert page.scripts == 0 and page.fetched == [], "nothing to run, nothing to fetch"
    assert len(page.ids) == len(set(page.ids)), "each chart's ids are its own"
    text = " ".join(" ".join(page.text).split())
    assert "suppressed (fewer than 3 people)" in text
    assert "Report for Mon 4 Jan 2027 to Sun 7 Feb 2027" in text
    assert "CST" in text, "times in the program's zone"


def test_from_and_until_narrow_the_period(cfg, sim, tmp_path):
    data = json.loads(written(sim, tmp_path / "week.json", "--from", "2027-01-18", "--until", "2027-01-24")
                      .read_text(encoding="utf-8"))
    assert data["period"] | {"as_of": None} == {"from": "2027-01-18", "until": "2027-01-24", "as_of": None,
                                               "start": "2027-01-18T06:00:00Z", "end": "2027-01-25T06:00:00Z"}
    assert (data["period_start"], data["period_end"]) == ("2027-01-18", "2027-01-24")
    assert [t["planned"] for t in data["teams"]] == [1, 1, 1], "one weekly team session each"
    assert {k: v for k, v in data.items() if k not in META} == figures_for(cfg, sim, data["period"])
    whole = json.loads(written(sim, tmp_path / "all.json").read_text(encoding="utf-8"))
    assert data["sessions"]["total"]["planned"] < whole["sessions"]["total"]["planned"]
    only_from = json.loads(written(sim, tmp_path / "from.json", "--from", "2027-02-01").read_text(encoding="utf-8"))
    assert (only_from["period"]["from"], only_from["period"]["until"]) == ("2027-02-01", "2027-02-07")


@pytest.mark.parametrize(("args", "says"), [
    (("--from", "2027-02-30"), "--from: expected a date like 2027-03-29, got '2027-02-30'"),
    (("--until", "next week"), "--until: expected a date like"),
    (("--from", "2027-02-01", "--until", "2027-01-20"), "--from 2027-02-01 is after --until 2027-01-20"),
    (("--until", "2026-12-31"), "--until 2026-12-31 is before the program's start (2027-01-04); give --from too"),
    (("--from", "2027-03-01"), "--from 2027-03-01 is after now (2027-02-08 00:00 CST): nothing has happened yet"),
    (("--format", "pdf"), "--format: expected html, csv or json, got 'pdf'"),
])
def test_each_input_error_is_one_line_and_exit_2(sim, tmp_path, args, says):
    out = tmp_path / "report.json"
    result = report(sim, "--out", str(out), *args)
    assert_refused(result, says)
    assert not out.exists()


def test_an_out_that_cannot_be_written_is_refused(sim, tmp_path):
    assert_refused(report(sim, "--out", str(tmp_path / "missing" / "r.json")),
                   f"--out: the folder {tmp_path / 'missing'} does not exist")
    assert_refused(report(sim, "--out", str(tmp_path)), "is a folder; name the file to write")
    assert_refused(report(sim, "--out", str(tmp_path / "report.txt")), "--format: say html, csv or json")


def test_a_state_with_no_database_is_refused(tmp_path):
    out = tmp_path / "report.html"
    assert_refused(report(tmp_path / "nothing", "--out", str(out)), "--state: no coachd database in")
    assert not out.exists() and not (tmp_path / "nothing").exists(), "looking creates nothing"


def test_a_failed_write_leaves_the_previous_report_whole(sim, tmp_path, monkeypatch):
    out = tmp_path / "report.json"
    out.write_text("last week's report\n")

    def full_disk(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_view.os, "replace", full_disk)
    assert_refused(report(sim, "--out", str(out)), f"--out: cannot write {out}: No space left on device")
    assert out.read_text() == "last week's report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"], "no temporary file is left behind"


def assert_refused(result: Result, says: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


# The page from figures of a program further along: ratings shown, a trend, people named.
FIGURES: dict[str, Any] = {
    "period_start": date(2027, 3, 1), "period_end": date(2027, 3, 28),
    "sessions": {"rows": [{"kind": "group", "label": "Team sessions", "planned": 8, "held": 6, "moved": 1,
                           "cancelled": 1, "to_come": 1}],
                 "total": {"planned": 8, "held": 6, "moved": 1, "cancelled": 1, "to_come": 1}},
    "teams": [{"id": "t", "name": "<b>Sales & Co</b>", "coach": "Zoë Müller", "planned": 8, "held": 6, "moved": 1,
               "cancelled": 1, "to_come": 1, "expected": 18, "attended": 16, "attendance_rate": 0.889}],
    "feedback": {"requests": 20, "responses": 15, "response_rate": 0.75, "average_rating": 4.2, "people": 5,
                 "suppressed": False, "previous": {"response_rate": 0.7, "average_rating": 3.9},
                 "trend": {"response_rate": 0.05, "average_rating": 0.3}},
    "actions": {"opened": 4, "done": 2, "overdue": 1, "open": 2},
    "coaching": {"target": 0.1, "rows": [{"id": "zoe", "coach": "Zoë Müller", "hours": 30.0, "working_hours": 160.0,
                                          "share": 0.188, "on_target": True}]},
    "consistency": {"cadence_days": 14, "rows": [{"id": "a", "coachee": "Ana", "team": "<b>Sales & Co</b>",
                                                  "last": date(2027, 3, 2), "days_since": 26, "behind": True}]},
    "outcomes": [{"text": "Win rate", "baseline": 22.0, "target": 30.0, "unit": "%", "latest": 26.0,
                  "measured_on": date(2027, 3, 15), "progress": 0.5}],
    "goal_check_ins": {"asked": 6, "answered": 2, "average": None, "suppressed": True},
    "recognition": {"allowed": True, "most_consistent": ["Ana Souza"], "most_improved": ["Ben Carter"]},
    "upcoming": [{"title": "Team call", "kind": "group", "start": datetime(2027, 3, 29, 15, tzinfo=UTC),
                  "end": datetime(2027, 3, 29, 16, tzinfo=UTC)}],
    "next_review": datetime(2027, 4, 5, 15, tzinfo=UTC), "next_digest": date(2027, 4, 26),
    "history": {"weeks": [date(2027, 3, 1), date(2027, 3, 8), date(2027, 3, 15), date(2027, 3, 22)],
                "teams": [{"id": "t", "name": "<b>Sales & Co</b>", "attendance": [1.0, None, 0.667, 1.0],
                           "rating": [None, 4.0, 4.3, 4.5]}]},
}


def test_the_page_shows_ratings_trends_and_recognition_escaped(cfg, tmp_path):
    start, end = datetime(2027, 3, 1, 6, tzinfo=UTC), datetime(2027, 3, 29, 5, tzinfo=UTC)
    period = report_view.Period(start, end, date(2027, 3, 1), date(2027, 3, 28))
    document = report_view.document(cfg, FIGURES, period, end, end)
    html = report_view.render_html(cfg, document).decode("utf-8")
    page = parse(html)
    assert page.headings == [*SECTIONS[:-2], "To recognise", *SECTIONS[-2:]]
    text = " ".join(" ".join(page.text).split())
    assert "<b>Sales & Co</b>" in text and "<b>Sales" not in html, "names are escaped"
    assert "4.2 / 5" in text and "response rate +5 pts, rating +0.3" in text
    assert "Ana Souza" in text and "Ben Carter" in text
    assert "Mon 29 Mar 2027, 10:00–11:00 CDT (60 min)" in text
    assert "Mon 26 Apr 2027" in text, "the next digest"
    assert "Win rate 22% 30% 26% (Mon 15 Mar 2027) 50%" in text
    assert page.svgs_in_figures == 2, "attendance and rating"
    assert len(page.ids) == len(set(page.ids)), "the two charts' clip paths and glyphs do not collide"
    assert html.count('role="img"') == 2
    rows = list(report_view.rows(json.loads(report_view.render_json(cfg, document))))
    assert ("teams", "<b>Sales & Co</b>", "attendance_rate", 0.889) in rows
    assert ("recognition", "", "most_consistent", "Ana Souza") in rows
