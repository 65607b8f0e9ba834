"""`coachd report`: the program's figures for a period as a JSON, CSV or self-contained HTML file.

Aggregates only, exactly what the sponsor digest shows (coachd.reporting.figures.program_figures): never a
reply's text, never one person's rating.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from coachd.reporting import figures as metrics
from coachd.reporting.charts import trend_charts  # matplotlib itself is imported only when a chart is drawn
from coachd.config import ProgramConfig
from coachd.model.periods import digest_periods, next_end, previous_period
from coachd.model.types import UTC
from coachd.mail.compose import builtin_templates_dir
from coachd.mail.filters import FILTERS
from coachd.observe.observer import observe
from coachd.observe.readonly import existing_store, state_now

FORMATS = ("html", "csv", "json")
SUFFIXES = {".html": "html", ".htm": "html", ".csv": "csv", ".json": "json"}
CSV_HEADER = ("section", "item", "metric", "value")
# Keys that name a row of a list section, first match wins: the CSV's `item` column.
LABEL_KEYS = ("name", "coachee", "coach", "label", "title", "text")


class ReportError(Exception):
    """An option the report cannot use; the message starts with the option's name."""


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC; first and last are the inclusive days in the program's zone."""
    start: datetime
    end: datetime
    first: date
    last: date


def report_format(fmt: str | None, out: Path) -> str:
    if fmt is None:
        guessed = SUFFIXES.get(out.suffix.lower())
        if guessed is None:
            raise ReportError(f"--format: say html, csv or json (or end --out with .html, .csv or .json); "
                              f"{out.name!r} does not tell")
        return guessed
    if fmt.lower() not in FORMATS:
        raise ReportError(f"--format: expected html, csv or json, got {fmt!r}")
    return fmt.lower()


def check_out(out: Path) -> None:
    """Refuse an --out that cannot be written before any figure is computed."""
    if out.is_dir():
        raise ReportError(f"--out: {out} is a folder; name the file to write")
    folder = out.parent
    if not folder.is_dir():
        raise ReportError(f"--out: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ReportError(f"--out: cannot write in {folder} (permission denied)")


def resolve_period(cfg: ProgramConfig, now: datetime, first: date | None, last: date | None) -> Period:
    """--from/--until are inclusive days in the program's zone; by default the program start to now
    or the program end, whichever is earlier."""
    zone = cfg.program.zone
    if first is not None and last is not None and first > last:
        raise ReportError(f"--from {first} is after --until {last}")
    start = datetime.combine(first or cfg.program.starts, time(0), zone)
    if last is not None:
        end = datetime.combine(last + timedelta(days=1), time(0), zone)
    else:
        end = min(now.astimezone(zone), datetime.combine(cfg.program.ends + timedelta(days=1), time(0), zone))
    if end <= start:
        today = f"{now.astimezone(zone):%Y-%m-%d %H:%M %Z}"
        if last is not None:
            raise ReportError(f"--until {last} is before the program's start ({cfg.program.starts}); give --from too")
        if first is not None:
            raise ReportError(f"--from {first} is after now ({today}): nothing has happened yet; "
                              "give --until to report on what is planned")
        raise ReportError(f"--from: nothing to report yet, the program starts on {cfg.program.starts} and it is "
                          f"{today}; give --from and --until to report on what is planned")
    return Period(start.astimezone(UTC), end.astimezone(UTC), start.date(), (end - timedelta(seconds=1)).date())


def write_report(cfg: ProgramConfig, state: Path, fmt: str, out: Path, first: date | None, last: date | None,
                 generated_at: datetime | None = None) -> Period:
    """Write the report; the caller has checked `out` with check_out before any figure is computed."""
    with existing_store(cfg, state) as store:
        if store is None:
            raise ReportError(f"--state: no coachd database in {state} yet; "
                              "`coachd run` or `coachd simulate` makes one")
        now = state_now(store, cfg.program.id)
        period = resolve_period(cfg, now, first, last)
        # A range that is a digest period compares with the digest before it, as the digest does.
        spans = digest_periods(cfg)
        previous = previous_period(spans, (period.start, period.end))
        figures = metrics.program_figures(cfg, observe(store, cfg.program.id), period.start, period.end, now,
                                          previous=previous)
    report = document(cfg, figures, period, now, generated_at or datetime.now(UTC))
    render = {"json": render_json, "csv": render_csv, "html": render_html}[fmt]
    write_atomically(out, render(cfg, report))
    return period


def document(cfg: ProgramConfig, figures: Mapping[str, Any], period: Period, now: datetime,
             generated_at: datetime) -> dict[str, Any]:
    """The figures with what a reader needs to know whose they are and for when."""
    return {
        "program": {"id": cfg.program.id, "name": cfg.program.name, "timezone": cfg.program.timezone},
        "generated_at": generated_at,
        "period": {"from": period.first, "until": period.last, "start": period.start, "end": period.end,
                   "as_of": now},
        **figures,
    }


def iso(value: Any) -> Any:
    """Dates as 2027-01-04, instants in UTC as 2027-01-04T15:00:00Z; what JSON cannot hold, as text."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


def render_json(cfg: ProgramConfig, report: Mapping[str, Any]) -> bytes:
    # Key order is the figures' own (fixed by program_figures), so two runs diff cleanly.
    return (json.dumps(report, indent=2, ensure_ascii=False, default=iso) + "\n").encode("utf-8")


def rows(report: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """The report as (section, item, metric, value): nested dicts and list rows become items."""
    plain = json.loads(json.dumps(report, default=iso))
    for section, value in plain.items():
        if section == "history":
            yield from _history_rows(value)
        elif isinstance(value, dict):
            yield from _dict_rows(section, "", value)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            yield from _list_rows(section, value)
        else:  # generated_at, period_start, next_review...
            yield "report", "", section, _cell(value)


def _dict_rows(section: str, item: str, value: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    for key, inner in value.items():
        if isinstance(inner, dict):
            yield from _dict_rows(section, f"{item} {key}".strip(), inner)
        elif isinstance(inner, list) and inner and all(isinstance(v, dict) for v in inner):
            yield from _list_rows(section, inner)
        else:
            yield section, item, key, _cell(inner)


def _list_rows(section: str, items: list[dict[str, Any]]) -> Iterator[tuple[str, str, str, Any]]:
    seen: dict[str, int] = {}
    for row in items:
        key = next((k for k in LABEL_KEYS if isinstance(row.get(k), str)), None)
        label = row[key] if key else str(len(seen) + 1)
        if "start" in row:  # upcoming sessions share titles: the start tells them apart
            label = f"{label} {row['start']}"
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} ({seen[label]})"
        for metric, value in row.items():
            if metric != key:
                yield section, label, metric, _cell(value)


def _history_rows(history: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    weeks = history.get("weeks", [])
    for team in history.get("teams", []):
        for series in ("attendance", "rating"):
            for week, value in zip(weeks, team.get(series, [])):
                yield "history", team["name"], f"{series} {week}", _cell(value)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def render_csv(cfg: ProgramConfig, report: Mapping[str, Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    writer.writerows(rows(report))
    # The byte-order mark makes Excel read the file as UTF-8 (accents in names); others skip it.
    return buffer.getvalue().encode("utf-8-sig")


def render_html(cfg: ProgramConfig, report: Mapping[str, Any]) -> bytes:
    env = Environment(loader=FileSystemLoader(str(builtin_templates_dir("report"))), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    env.filters.update({"rating": _rating, "signed": _signed, "hours": _hours})
    charts = [{"title": c.title, "alt": c.alt, "svg": _inline_svg(c.data, c.name, c.alt)}
              for c in trend_charts(report.get("history") or {}, fmt="svg")]
    coming = report.get("next_digest") or next_digest(cfg, report["period"]["as_of"])
    html = env.get_template("report.html").render(report=report, charts=charts, tz=cfg.program.timezone,
                                                  min_group=metrics.MIN_GROUP, next_digest=coming)
    return html.encode("utf-8")


def next_digest(cfg: ProgramConfig, now: datetime) -> date | None:
    """The day the next sponsor digest goes out: the end of the digest period running at `now`."""
    coming = next_end(digest_periods(cfg), now)
    return coming.astimezone(cfg.program.zone).date() if coming else None


_SVG_ID = re.compile(r'\bid="([^"]+)"')


def _inline_svg(data: bytes, name: str, alt: str) -> Markup:
    """An SVG file as an element inside the page: without its XML prolog, labelled for screen readers,
    and with its ids prefixed, since two charts drawn alike would otherwise share clip-path and glyph ids."""
    text = data.decode("utf-8")
    text = text[text.find("<svg"):] if "<svg" in text else text
    text = text.replace("<svg", str(Markup('<svg role="img" aria-label="{}"').format(alt)), 1)
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    for ident in set(_SVG_ID.findall(text)):
        text = (text.replace(f'id="{ident}"', f'id="{prefix}-{ident}"')
                .replace(f"#{ident})", f"#{prefix}-{ident})").replace(f'href="#{ident}"', f'href="#{prefix}-{ident}"'))
    return Markup(text)  # noqa: S704 - drawn by coachd.reporting.charts from the figures, text escaped by matplotlib


def _rating(value: float | None) -> str:
    return "not recorded" if value is None else f"{value:.1f} / 5"


def _signed(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "not comparable"
    shown = f"{value * 100:+.0f} pts" if percent else f"{value:+.1f}"
    return shown.replace("-", "\u2212")


def _hours(value: float | None) -> str:
    return "not recorded" if value is None else f"{value:.1f} h"


def write_atomically(out: Path, data: bytes) -> None:
    """A temporary file in the same folder, then a rename: a failed run never leaves half a report."""
    try:
        handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as error:
        raise ReportError(f"--out: cannot write in {out.parent}: {error.strerror or error}") from error
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as a plain write would leave it, not mkstemp's 0600
        os.replace(temporary, out)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ReportError(f"--out: cannot write {out}: {error.strerror or error}") from error
