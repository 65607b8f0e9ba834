"""The fixed trend-chart history, its golden images and a chart-less digest's MIME shape under tests/fixtures/charts.

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


def mime_structure(raw: bytes) -> list[dict[str, Any]]:
    """An email's shape, part by part: headers in order (values only where they are structure, so a
    template's wording or the date may change), content type and parameters, encoding, disposition."""
    import email
    from email.policy import default

    structural = {"content-type", "content-transfer-encoding", "content-disposition", "mime-version", "x-coachd-kind"}
    shape = []
    for part in email.message_from_bytes(raw, policy=default).walk():
        params = {k: ("<boundary>" if k == "boundary" else v) for k, v in part.get_params(header="content-type")[1:]}
        shape.append({
            "headers": [f"{k}: {v}" if k.lower() in structural and k.lower() != "content-type" else k
                        for k, v in part.items()],
            "type": part.get_content_type(), "params": params,
            "disposition": part.get_content_disposition(), "filename": part.get_filename()})
    return shape


def digest_without_charts() -> bytes:
    """The digest Dana gets with no charts, composed with only the chart partials as its figures."""
    import tempfile
    from datetime import UTC, datetime

    from coachd.mail import Composer, Envelope
    from coachd.mail.samples import DANA, sample_context

    with tempfile.TemporaryDirectory() as folder:
        for suffix in ("html", "txt"):
            (Path(folder) / f"_figures.{suffix}").write_text(f'{{% include "_charts.{suffix}" %}}\n', encoding="utf-8")
        envelope = Envelope(key="digest:northwind-2027/2027-05-17/dana", sender_name="Northwind Coaching Office",
                            sender_email="coaching@northwind.example",
                            date=datetime(2027, 5, 24, 13, 0, tzinfo=UTC))
        return Composer(Path(folder)).compose_bytes("digest", DANA, sample_context("digest"), envelope).raw


def drawing_versions() -> dict[str, str]:
    """The libraries that decide a chart's bytes: the golden pictures hold for these versions only."""
    from importlib.metadata import version

    return {name: version(name) for name in ("matplotlib", "pillow")}


VERSIONS_FILE = GOLDEN / "drawn-with.json"


def same_drawing_libraries() -> bool:
    """Whether this environment draws with the versions the golden pictures were made with."""
    return json.loads(VERSIONS_FILE.read_text(encoding="utf-8")) == drawing_versions()


def main() -> None:
    from coachd.reporting.charts import trend_charts

    GOLDEN.mkdir(parents=True, exist_ok=True)
    VERSIONS_FILE.write_text(json.dumps(drawing_versions(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for chart in trend_charts(history(), fmt="svg"):
        (GOLDEN / chart.filename).write_bytes(chart.data)
    digests = png_digests(trend_charts(history()))
    (GOLDEN / "png-sha256.json").write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shape = mime_structure(digest_without_charts())
    (GOLDEN / "digest-without-charts.json").write_text(json.dumps(shape, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {', '.join(sorted(p.name for p in GOLDEN.iterdir()))} in {GOLDEN}")


if __name__ == "__main__":
    main()
