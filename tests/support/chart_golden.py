"""The fixed trend-chart history and its golden images under tests/fixtures/charts.

The charts must come out byte for byte the same for the same history in every process (their Content-ID is
a hash of the bytes, and a digest re-sent after a crash must be the same email). tests/unit/test_charts.py
compares fresh charts with these files, made in another process. Regenerate them only when the pictures
change on purpose (a new style, a new matplotlib), look at the SVGs, and commit them with that change:

    .venv/bin/python -m tests.support.chart_golden
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "charts"
WEEKS = [date(2027, 1, 4) + timedelta(weeks=i) for i in range(20)]


def _series(start: float, step: float, gaps: set[int]) -> list[float | None]:
    return [None if i in gaps else round(start + step * ((i * 7) % 5 - 2), 2) for i in range(len(WEEKS))]


def history() -> dict[str, Any]:
    """Three teams over 20 weeks: weeks without a session, suppressed ratings, a team never rated."""
    return {
        "weeks": list(WEEKS),
        "teams": [
            {"id": "americas", "name": "Americas Enterprise",
             "attendance": _series(0.85, 0.05, {6, 13}), "rating": _series(4.1, 0.2, {6, 13, 19})},
            {"id": "apac", "name": "APAC Growth",
             "attendance": _series(0.7, 0.08, {0, 1, 15}), "rating": _series(3.6, 0.3, {0, 1, 5, 6, 7, 15})},
            {"id": "emea", "name": "EMEA Field <Sales> & \"Ops\"",
             "attendance": _series(0.8, 0.06, {12}), "rating": [None] * len(WEEKS)},
        ],
    }  # fmt: skip


def png_digests(charts: list[Any]) -> dict[str, str]:
    return {chart.filename: hashlib.sha256(chart.data).hexdigest() for chart in charts}


def main() -> None:
    from coachd.reporting.charts import trend_charts

    GOLDEN.mkdir(parents=True, exist_ok=True)
    for chart in trend_charts(history(), fmt="svg"):
        (GOLDEN / chart.filename).write_bytes(chart.data)
    digests = png_digests(trend_charts(history()))
    (GOLDEN / "png-sha256.json").write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {', '.join(sorted(p.name for p in GOLDEN.iterdir()))} in {GOLDEN}")


if __name__ == "__main__":
    main()
