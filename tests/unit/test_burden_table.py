"""`coachd plan`'s burden table shows who carries the out-of-hours minutes, and how the turns are shared."""

from __future__ import annotations

from rich.console import Console

from coachd.reporting.dry_run import burden_table, heaviest_shares
from tests.unit.test_scheduling import program


def render(table) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def test_the_share_of_the_most_loaded_eight_in_a_row_is_per_person():
    # Ten occurrences: lou carries the first four alone, then the two take turns.
    per_occurrence = [{"lou": 60}] * 4 + [{"syd": 60}, {"lou": 60}] * 3
    shares = heaviest_shares(per_occurrence)
    # First eight: lou 6 of 8 hours; syd's best window (the last eight) holds 3 of 8.
    assert shares == {"lou": 75, "syd": 38}


def test_the_burden_table_shows_each_persons_largest_share_and_the_rule():
    cfg = program([("lou", "America/Los_Angeles", "08:00-16:00"), ("syd", "Australia/Sydney", "09:00-17:00")],
                  [("t", "lou", ["syd"])])
    burden = {"lou": {"2027-04": 120, "2027-05": 60}, "syd": {"2027-04": 60, "2027-05": 120}}
    text = render(burden_table(cfg, burden, {"lou": 50, "syd": 50}))
    assert cells(text, "largest share of 8 in a row") == ["50%", "50%"]
    assert cells(text, "total") == ["180", "180"]
    assert "nobody carries more than about half of the out-of-hours minutes" in " ".join(text.split())


def cells(text: str, label: str) -> list[str]:
    row = next(line for line in text.splitlines() if line.strip("│ ").startswith(label))
    return [cell.strip() for cell in row.strip().strip("│").split("│")][1:]
