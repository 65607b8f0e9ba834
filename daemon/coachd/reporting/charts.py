"""Sponsor trend charts (attendance and feedback rating per team, week by week) as email images."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from io import BytesIO
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

from coachd.mail.filters import MONTHS, percent

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure


# Okabe-Ito, the palette made for colour-blind readers, yellow last (it is faint on white).
# Each team also gets its own marker, so lines stay apart in greyscale and for every reader.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_LINESTYLES = ("-", "--", ":")  # beyond eight teams colours repeat; the line style then tells them apart

# 5.44 x 2.5 inches: 544 x 250 CSS pixels at 100 dpi, the width of the email's text column
# (600 less 2 x 28 padding, templates/email/_base.html), so the 9 pt labels show at their size.
# Drawn at twice the dpi so retina screens get sharp lines; _charts.html fixes the shown width.
WIDTH_PX = 544
_WIDTH_IN, _HEIGHT_IN, _DPI = WIDTH_PX / 100, 2.5, 200
_LEGEND_COLUMNS = 4
_LEGEND_CHARS = 30  # longer team names are cut in the legend; the alt text has them whole
_LEGEND_ROW_IN = 0.2
_MAX_TICKS = 7
# Per team, in points: markers (4.5 pt) side by side, lines (1.8 pt) apart by half their width.
_DODGE_X_PT, _DODGE_Y_PT = 3.0, 0.9

_RC = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every host
    "font.size": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": "#374151",
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "svg.hashsalt": "coachd",  # stable element ids: the same history gives the same SVG
    "svg.fonttype": "path",  # text as outlines: no font needed where the SVG is shown
    "path.simplify": False,
}


@dataclass(frozen=True)
class Chart:
    """One rendered chart: `data` in `mime`, `alt` a one-sentence description for screen readers
    and for mail clients that do not show images."""

    name: str  # "attendance" | "rating"; also the attachment's file name
    title: str
    alt: str
    mime: str  # image/png | image/svg+xml
    data: bytes

    @property
    def cid(self) -> str:
        """Content-ID without angle brackets; it changes with the picture, so a client that caches
        inline images by id never shows last week's chart."""
        digest = hashlib.sha256(self.data).hexdigest()[:12]
        return f"{self.name}.{digest}@coachd"

    @property
    def filename(self) -> str:
        return f"{self.name}.{'svg' if self.mime == 'image/svg+xml' else 'png'}"


@dataclass(frozen=True)
class _Metric:
    name: str
    key: str  # in each history team
    title: str
    lead: str  # how the alt text starts
    label: str  # y axis
    scale: float
    limits: tuple[float, float]
    ticks: tuple[float, ...]
    unit: str  # "%" or " of 5"


_ATTENDANCE = _Metric("attendance", "attendance", "Attendance per team, week by week", "Attendance per team",
                      "Attendance", 100.0, (-4.0, 104.0), (0, 25, 50, 75, 100), "%")
_RATING = _Metric("rating", "rating", "Team sessions' feedback rating, average of the last 4 weeks (1 to 5)",
                  "Team sessions' feedback rating per team, 4-week average (1 to 5)", "Rating (1-5)", 1.0, (0.8, 5.2),
                  (1, 2, 3, 4, 5), " of 5")


def trend_charts(history: Mapping[str, Any] | None, *, fmt: Literal["png", "svg"] = "png") -> list[Chart]:
    """`_trend_charts`, remembered for the last few histories: a review pack goes to every sponsor and
    coach with the same figures, and drawing costs a good part of a second each time."""
    weeks = tuple((history or {}).get("weeks") or ())
    teams = tuple((str(t["name"]), tuple(t.get("attendance") or ()), tuple(t.get("rating") or ()))
                  for t in (history or {}).get("teams") or ())
    return list(_cached(weeks, teams, fmt))


@lru_cache(maxsize=8)
def _cached(weeks: tuple[date, ...], teams: tuple[tuple[str, tuple[Any, ...], tuple[Any, ...]], ...],
            fmt: Literal["png", "svg"]) -> tuple[Chart, ...]:
    history = {"weeks": list(weeks),
               "teams": [{"name": name, "attendance": list(a), "rating": list(r)} for name, a, r in teams]}
    return tuple(_trend_charts(history, fmt=fmt))


def _trend_charts(history: Mapping[str, Any] | None, *, fmt: Literal["png", "svg"] = "png") -> list[Chart]:
    """Attendance and average rating per team over the program's weeks, in that order.

    `history` is `{"weeks": [date, ...], "teams": [{"id", "name", "attendance": [0..1 | None],
    "rating": [1..5 | None]}]}`, one value per week. None is a week without a value (no session, or too
    few answers to show): no marker there, the line joins the weeks either side, never a zero. A metric with no value at all gives no
    chart, so an empty history gives an empty list. The same history gives the same bytes.
    """
    if fmt not in ("png", "svg"):
        raise ValueError(f"chart format must be 'png' or 'svg', not {fmt!r}")
    weeks = list((history or {}).get("weeks") or [])
    teams = list((history or {}).get("teams") or []) if weeks else []
    charts = []
    for metric in (_ATTENDANCE, _RATING):
        series = [(str(team["name"]), _values(team, metric, len(weeks))) for team in teams]
        if any(v is not None for _, values in series for v in values):
            charts.append(_render(metric, weeks, series, fmt))
    return charts


def _values(team: Mapping[str, Any], metric: _Metric, length: int) -> list[float | None]:
    raw = list(team.get(metric.key) or [])
    if raw and len(raw) != length:
        raise ValueError(f"history: team {team.get('name')!r} has {len(raw)} {metric.key} values for {length} weeks")
    # A missing list is all gaps; NaN is a gap too, so it can never reach the alt text as "nan%".
    values = [None if v is None or math.isnan(float(v)) else float(v) for v in raw]
    return values or [None] * length


def _render(metric: _Metric, weeks: list[date], series: list[tuple[str, list[float | None]]], fmt: str) -> Chart:
    # Imported here: matplotlib costs half a second to import and most commands never draw.
    # Figure and the Agg canvas directly, never pyplot: no display, no global figure registry.
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    drawn = [(index, name, values) for index, (name, values) in enumerate(series)
             if any(v is not None for v in values)]
    labels = [_legend_label(name) for _, name, _ in drawn]
    # "default" ignores any matplotlibrc on the host, so every host draws the same chart.
    with matplotlib.style.context("default"), matplotlib.rc_context(_RC):
        figure = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=_DPI if fmt == "png" else 100,
                        layout="constrained", facecolor="white")
        canvas = FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for position, ((index, _, values), label) in enumerate(zip(drawn, labels)):
            # A week without a value (no session, too few answers) is skipped, not a break: a team
            # that meets every two weeks still has a line, as its legend entry promises.
            points = [(week.toordinal(), v * metric.scale) for week, v in zip(weeks, values) if v is not None]
            # Team colours and markers follow the team's place in the history, so a team looks
            # the same in both charts even when it has no values in one of them.
            axes.plot([p[0] for p in points], [p[1] for p in points], label=label,
                      color=_COLOURS[index % len(_COLOURS)], marker=_MARKERS[index % len(_MARKERS)],
                      linestyle=_LINESTYLES[(index // len(_COLOURS)) % len(_LINESTYLES)],
                      linewidth=1.8, markersize=4.5, clip_on=False,
                      transform=axes.transData + _dodge(figure, position, len(drawn)))
        _style_axes(axes, metric, weeks)
        _legend(figure, canvas, len(labels))
        if fmt == "svg":
            buffer = BytesIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
            data = buffer.getvalue()
        else:
            canvas.draw()
            data = _png(canvas)
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return Chart(metric.name, metric.title, _alt(metric, weeks, series), mime, data)


def _dodge(figure: Figure, position: int, count: int) -> Any:
    """A shift of a few points per team, so that teams with the same values (two at 100%) are side by
    side instead of one hiding the other; small enough not to change what a value reads as."""
    from matplotlib.transforms import ScaledTranslation

    step = position - (count - 1) / 2
    return ScaledTranslation(step * _DODGE_X_PT / 72, step * _DODGE_Y_PT / 72, figure.dpi_scale_trans)


def _png(canvas: FigureCanvasAgg) -> bytes:
    """The drawn figure as a palette PNG: a flat-colour chart loses nothing visible in 256 colours
    and the email carries a quarter of the bytes (about 30 kB instead of 90). No text chunks
    (software, date) and no pHYs, so the bytes depend on the picture only and the HTML alone sets
    the shown size."""
    from PIL import Image

    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _legend_label(name: str) -> str:
    return name if len(name) <= _LEGEND_CHARS else name[: _LEGEND_CHARS - 1].rstrip() + "…"


def _legend(figure: Figure, canvas: FigureCanvasAgg, entries: int) -> None:
    """The team key above the plot, in as many columns (up to four) as fit the width; the figure
    grows a little per extra row so the plot keeps its height."""
    renderer = canvas.get_renderer()
    columns = min(entries, _LEGEND_COLUMNS)
    while True:
        legend = figure.legend(loc="outside upper center", ncols=columns, frameon=False,
                               handlelength=2.4, columnspacing=1.6)
        if columns == 1 or legend.get_window_extent(renderer).width <= figure.bbox.width * 0.98:
            break
        legend.remove()
        columns -= 1
    rows = math.ceil(entries / columns)
    figure.set_size_inches(_WIDTH_IN, _HEIGHT_IN + _LEGEND_ROW_IN * max(rows - 1, 0))


def _style_axes(axes: Axes, metric: _Metric, weeks: list[date]) -> None:
    from matplotlib.ticker import FuncFormatter

    axes.set_ylim(*metric.limits)
    axes.set_yticks(list(metric.ticks))
    if metric.unit == "%":
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0f}%"))
    axes.set_ylabel(metric.label)
    first, last = weeks[0].toordinal(), weeks[-1].toordinal()
    axes.set_xlim(first - 3.5, last + 3.5)  # half a week of air either side, so end markers show whole
    step = math.ceil(len(weeks) / _MAX_TICKS)
    shown = weeks[::step]
    axes.set_xticks([week.toordinal() for week in shown], [_day_month(week) for week in shown])
    years = sorted({weeks[0].year, weeks[-1].year})
    axes.set_xlabel(f"Week starting ({'–'.join(str(y) for y in years)})")
    axes.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _day_month(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"  # English whatever the host's locale, as in the emails


def _figure(metric: _Metric, value: float) -> str:
    if metric.unit == "%":
        return percent(value)  # as the tables show it
    return f"{value:.1f}{metric.unit}"


def _alt(metric: _Metric, weeks: Sequence[date], series: list[tuple[str, list[float | None]]]) -> str:
    """"Attendance per team, weekly from 4 Jan to 17 May 2027; latest: Americas 92% (week of 17 May), ..."."""
    latest = []
    for name, values in series:
        known = [(week, v) for week, v in zip(weeks, values) if v is not None]
        if known:
            week, value = known[-1]
            latest.append(f"{name} {_figure(metric, value)} (week of {_day_month(week)})")
        else:
            latest.append(f"{name} none recorded")
    span = f"{_day_month(weeks[0])}{' ' + str(weeks[0].year) if weeks[0].year != weeks[-1].year else ''}"
    return f"{metric.lead}, weekly from {span} to {_day_month(weeks[-1])} {weeks[-1].year}; latest: {', '.join(latest)}."
