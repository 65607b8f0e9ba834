"""What digests report on, as configured: digest.every, digest.coaching_target, measured outcomes,
and the digest periods they cover (DST included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from coachd.cli.commands import main
from coachd.config import ConfigError, ProgramConfig, load_config, load_config_text, summary_text
from coachd.config.model import Outcome
from coachd.config.values import DigestCadence, parse_digest_every, parse_share
from coachd.model.periods import (
    digest_periods,
    last_ended,
    local_days,
    midnight,
    period_containing,
    previous_period,
)

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
SOURCE = Path(__file__).parents[1] / "fixtures" / "config" / "inline.yaml"
CHICAGO, BERLIN = ZoneInfo("America/Chicago"), ZoneInfo("Europe/Berlin")

REST = """\
organizer: {name: Office, email: office@mini.example}
people:
  - {id: cora, name: Cora Coach, email: cora@mini.example, timezone: Europe/London}
  - {id: finn, name: Finn Member, email: finn@mini.example, timezone: Europe/Dublin}
  - {id: sam, name: Sam Sponsor, email: sam@mini.example, timezone: Europe/London}
sponsors: [sam]
teams:
  - {id: one, name: Team One, coach: cora, members: [finn]}
"""


def config_text(
    digest: str = "{}",
    outcomes: str = "",
    *,
    zone: str = "America/Chicago",
    starts: str = "2027-01-04",
    ends: str = "2027-06-30",
) -> str:
    """digest: is on line 1; outcome items start on line 9."""
    program = f"program:\n  id: mini\n  name: Mini Program\n  timezone: {zone}\n  starts: {starts}\n  ends: {ends}\n"
    if outcomes:
        program += "  outcomes:\n" + outcomes
    return f"digest: {digest}\n" + program + REST


def load(digest: str = "{}", outcomes: str = "", **program: str) -> ProgramConfig:
    return load_config_text(config_text(digest, outcomes, **program), SOURCE)


def problems(digest: str = "{}", outcomes: str = "") -> list[str]:
    with pytest.raises(ConfigError) as error:
        load(digest, outcomes)
    return [str(p) for p in error.value.problems]


# digest.every

@pytest.mark.parametrize(
    ("written", "cadence", "label"),
    [
        ("weekly", DigestCadence(weeks=1), "weekly"),
        ("1w", DigestCadence(weeks=1), "weekly"),
        ("2w", DigestCadence(weeks=2), "every 2 weeks"),
        ("4w", DigestCadence(weeks=4), "every 4 weeks"),
        ("13w", DigestCadence(weeks=13), "every 13 weeks"),
        ("monthly", DigestCadence(months=1), "monthly"),
        ("quarterly", DigestCadence(months=3), "quarterly"),
    ],
)
def test_accepted_digest_cadences(written, cadence, label):
    every = load(f"{{every: {written}}}").digest.every
    assert every == cadence
    assert every.label == label
    assert parse_digest_every(str(every)) == every, "the config spelling reads back"


def test_the_digest_cadence_defaults_to_every_four_weeks():
    assert load().digest.every == DigestCadence(weeks=4)
    assert load().digest.coaching_target is None


ACCEPTED = "expected weekly, monthly, quarterly or a number of weeks like 2w or 4w"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("10d", "'10d'"),
        ("yearly", "'yearly'"),
        ("0w", "'0w'"),
        ("1.5w", "'1.5w'"),
        ("2W", "'2W'"),
        ("[2w]", "['2w']"),
        ("montly", "'montly' (did you mean 'monthly'?)"),
        ("biweekly", "'biweekly' (did you mean '2w'?)"),
        ("4", "4 (did you mean '4w'?)"),
    ],
)
def test_rejected_digest_cadences_name_what_is_accepted(written, shown):
    assert problems(f"{{every: {written}}}") == [f"digest.every: {ACCEPTED}, got {shown} (line 1)"]


# digest.coaching_target

@pytest.mark.parametrize(
    ("written", "share"), [("10%", 0.1), ("12.5%", 0.125), ("100%", 1.0), ("0.1", 0.1), ("1", 1.0), ("'10 %'", 0.1)]
)
def test_accepted_coaching_targets(written, share):
    assert load(f"{{coaching_target: {written}}}").digest.coaching_target == pytest.approx(share)


RANGE = "expected a share above 0% and at most 100%, like 10% or 0.1"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("110%", f"{RANGE}, got '110%'"),
        ("-5%", f"{RANGE}, got '-5%'"),
        ("0%", f"{RANGE}, got '0%'"),
        ("0", f"{RANGE}, got 0"),
        ("1.5", f"{RANGE}, got 1.5 (did you mean '1.5%'?)"),
        ("250", f"{RANGE}, got 250"),
        ("10", f"{RANGE}, got 10 (did you mean '10%'?)"),
        ("ten", "expected a share like 10% or 0.1, got 'ten'"),
        ("true", "expected a share like 10% or 0.1, got True"),
        ("'10 percent'", "expected a share like 10% or 0.1, got '10 percent'"),
    ],
)
def test_rejected_coaching_targets(written, message):
    assert problems(f"{{coaching_target: {written}}}") == [f"digest.coaching_target: {message} (line 1)"]


def test_shares_parse_outside_the_loader_too():
    assert parse_share("25%") == 0.25
    with pytest.raises(ValueError, match="at most 100%"):
        parse_share("110%")


# program.outcomes

WIN = "    - {text: Win rate, baseline: 22, target: 30, unit: '%', measured: {2027-03-31: 24, 2027-02-28: 21}}\n"


def test_plain_and_measured_outcomes():
    cfg = load(outcomes="    - Every coachee runs an account plan\n" + WIN)
    plain, win = cfg.program.outcomes
    assert isinstance(plain, Outcome) and isinstance(win, Outcome)
    assert cfg.program.outcome_texts == ["Every coachee runs an account plan", "Win rate"]
    assert [str(o) for o in cfg.program.outcomes] == cfg.program.outcome_texts
    assert (plain.baseline, plain.target, plain.unit, plain.measured) == (None, None, "", {})
    assert (win.baseline, win.target, win.unit) == (22, 30, "%")
    assert list(win.measured) == [date(2027, 2, 28), date(2027, 3, 31)], "in date order"


def test_latest_reading_and_progress():
    win = load(outcomes=WIN).program.outcomes[0]
    assert win.latest(date(2027, 2, 27)) is None and win.progress(date(2027, 2, 27)) is None
    assert win.latest(date(2027, 2, 28)) == (date(2027, 2, 28), 21)
    assert win.progress(date(2027, 3, 30)) == pytest.approx(-1 / 8), "below the baseline is below 0"
    assert win.latest(date(2027, 12, 31)) == (date(2027, 3, 31), 24)
    assert win.progress(date(2027, 3, 31)) == pytest.approx(0.25)


def test_progress_past_the_target_and_downward_targets():
    item = "{text: Sales cycle, baseline: 120, target: 90, unit: days, measured: {2027-06-01: 80}}"
    cycle = load(outcomes=f"    - {item}\n")
    assert cycle.program.outcomes[0].progress(date(2027, 6, 1)) == pytest.approx(40 / 30)


def test_unmeasured_outcomes_have_no_progress():
    cfg = load(outcomes="    - Plain\n    - {text: Not yet, baseline: 1, target: 2}\n")
    later = date(2030, 1, 1)
    assert all(o.latest(later) is None and o.progress(later) is None for o in cfg.program.outcomes)


def test_measurements_outside_the_program_are_fine():
    cfg = load(outcomes="    - {text: Win, baseline: 1, target: 2, measured: {2026-12-01: 1, 2028-01-01: 3}}\n")
    assert cfg.program.outcomes[0].latest(date(2027, 6, 30)) == (date(2026, 12, 1), 1)


def test_a_plain_outcome_dumps_back_as_its_text():
    cfg = load(outcomes="    - Plain\n" + WIN)
    dumped = cfg.model_dump(mode="json")["program"]["outcomes"]
    assert dumped[0] == "Plain"
    assert dumped[1]["measured"] == {"2027-02-28": 21.0, "2027-03-31": 24.0}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("{text: W, baseline: 22, target: 22}",
         ["program.outcomes[0].target: the target must differ from the baseline (22), "
          "or progress cannot be measured (line 9)"]),
        ("{text: W, target: 30}", ["program.outcomes[0].baseline: required key is missing (line 9)"]),
        ("{baseline: 1, target: 2}", ["program.outcomes[0].text: required key is missing (line 9)"]),
        ("{text: W, baseline: 1, target: 2, colour: red}",
         ["program.outcomes[0].colour: unknown key "
          "(expected one of: text, baseline, target, unit, measured) (line 9)"]),
        ("{text: W, baseline: 1, target: 2, mesured: {}}",
         ["program.outcomes[0].mesured: unknown key (did you mean 'measured'?) (line 9)"]),
        ("{text: W, baseline: 22%, target: 30}",
         ["program.outcomes[0].baseline: expected a number, got '22%' "
          "(write the number alone; the unit goes in unit:) (line 9)"]),
        ("{text: W, baseline: 1, target: null}", ["program.outcomes[0].target: expected a number, got None (line 9)"]),
        ("{text: W, baseline: true, target: 2}",
         ["program.outcomes[0].baseline: expected a number, got True (line 9)"]),
        ("{text: W, baseline: 1, target: 2, measured: [1, 2]}",
         ["program.outcomes[0].measured: expected a mapping of keys to values, got [1, 2] (line 9)"]),
        ("{text: '', baseline: 1, target: 2}", ["program.outcomes[0].text: must not be empty (line 9)"]),
        ("''", ["program.outcomes[0]: must not be empty (line 9)"]),
        ("5", ["program.outcomes[0]: expected the outcome as text, or a mapping with text, baseline and target, "
               "got 5 (line 9)"]),
        ("[a]", ["program.outcomes[0]: expected the outcome as text, or a mapping with text, baseline and target, "
                 "got ['a'] (line 9)"]),
    ],
)
def test_rejected_outcomes(item, expected):
    assert problems(outcomes=f"    - {item}\n") == expected


def test_bad_readings_are_reported_on_their_own_lines():
    outcomes = (
        "    - text: Win\n"              # line 9
        "      baseline: 22\n"
        "      target: 30\n"
        "      measured:\n"
        "        2027-03-31: 24\n"       # line 13
        "        2027-13-01: 25\n"
        "        2027-04-30: 26%\n"
        "        2027-05-31: lots\n"
    )
    assert problems(outcomes=outcomes) == [
        "program.outcomes[0].measured.2027-13-01: expected a date like 2027-01-04, got '2027-13-01' "
        "(month value is outside expected range of 1-12) (line 14)",
        "program.outcomes[0].measured.2027-04-30: expected a number, got '26%' "
        "(write the number alone; the unit goes in unit:) (line 15)",
        "program.outcomes[0].measured.2027-05-31: expected a number, got 'lots' (line 16)",
    ]


def test_every_problem_at_once_and_check_exits_2_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(config_text("{every: 10d, coaching_target: 110%}", "    - {text: W, baseline: 5, target: 5}\n"))
    result = CliRunner().invoke(main, ["check", str(bad)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    for line in (
        f"digest.every: {ACCEPTED}, got '10d' (line 1)",
        f"digest.coaching_target: {RANGE}, got '110%' (line 1)",
        "program.outcomes[0].target: the target must differ from the baseline (5)",
    ):
        assert line in " ".join(result.output.split()), line


def test_the_example_shows_a_measured_outcome_and_a_coaching_target():
    cfg = load_config(EXAMPLE)
    win = cfg.program.outcomes[0]
    assert (win.baseline, win.target, win.unit) == (22, 30, "%")
    assert win.latest(date(2027, 4, 1)) == (date(2027, 3, 31), 24)
    assert cfg.digest.coaching_target == pytest.approx(0.1)
    assert all(isinstance(t, str) and t for t in cfg.program.outcome_texts)
    text = summary_text(cfg)
    assert "digest     every 4 weeks to dana, coaching target 10% of working hours" in text
    assert "outcomes   3, 1 with a target" in text


# digest periods

def hours(span: tuple[datetime, datetime]) -> float:
    return (span[1] - span[0]).total_seconds() / 3600


def assert_well_formed(cfg: ProgramConfig, periods: list[tuple[datetime, datetime]]) -> None:
    zone = cfg.program.zone
    assert periods[0][0] == midnight(cfg.program.starts, zone), "the first starts at program.starts"
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        assert end == start, "contiguous"
    for start, end in periods:
        assert start < end
        for bound in (start, end):
            assert bound.tzinfo is UTC
            local = bound.astimezone(zone)
            assert bound == midnight(local.date(), zone), "program-zone midnights"
            assert local.time() == time(0) or _skipped(local), "(or where a day starts when DST skips midnight)"
    last_day = midnight(cfg.program.ends, zone)
    assert periods[-1][0] <= last_day and periods[-1][1] >= midnight(cfg.program.ends + timedelta(days=1), zone), (
        "the last holds program.ends"
    )
    assert len(periods) == 1 or periods[-2][1] <= last_day, "and no period lies wholly after it"


def _skipped(local: datetime) -> bool:
    return (local - timedelta(hours=1)).utcoffset() != local.utcoffset() and local.time() == time(1)


def test_where_dst_skips_midnight_a_period_starts_when_the_day_does():
    # Santiago moves its clocks from Saturday 24:00 straight to Sunday 01:00.
    cfg = load("{every: weekly}", zone="America/Santiago", starts="2027-08-29", ends="2027-09-10")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert periods[0] == (datetime(2027, 8, 29, 4, tzinfo=UTC), datetime(2027, 9, 5, 4, tzinfo=UTC))
    assert [hours(p) for p in periods] == [168, 143], "the last one ends with the program, on 10 September"


def test_weekly_periods_across_spring_forward_in_chicago():
    cfg = load("{every: weekly}", starts="2027-03-01", ends="2027-03-31")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert [local_days(p, CHICAGO)[0] for p in periods] == [date(2027, 3, d) for d in (1, 8, 15, 22, 29)]
    assert [hours(p) for p in periods] == [168, 167, 168, 168, 72], "DST began on Sunday 14 March; ends 31 March"
    assert periods[1] == (datetime(2027, 3, 8, 6, tzinfo=UTC), datetime(2027, 3, 15, 5, tzinfo=UTC))


def test_weekly_periods_across_fall_back_in_berlin():
    cfg = load("{every: 1w}", zone="Europe/Berlin", starts="2027-10-18", ends="2027-11-10")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert [hours(p) for p in periods] == [168, 169, 168, 72], "DST ended on Sunday 31 October; ends 10 November"
    assert periods[1] == (datetime(2027, 10, 24, 22, tzinfo=UTC), datetime(2027, 10, 31, 23, tzinfo=UTC))
    assert local_days(periods[1], BERLIN) == (date(2027, 10, 25), date(2027, 10, 31))


def test_two_week_periods_step_from_the_program_start_across_both_changes_in_chicago():
    cfg = load("{every: 2w}", starts="2027-01-04", ends="2027-12-17")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert len(periods) == 25
    starts = [date(2027, 1, 4) + timedelta(weeks=2 * k) for k in range(25)]
    assert [local_days(p, CHICAGO)[0] for p in periods] == starts
    assert [hours(p) for p in periods].count(335) == 1 and [hours(p) for p in periods].count(337) == 1
    assert local_days(periods[-1], CHICAGO) == (date(2027, 12, 6), date(2027, 12, 17)), "ends with the program"


def test_two_week_periods_in_berlin():
    cfg = load("{every: 2w}", zone="Europe/Berlin", starts="2027-03-17", ends="2027-04-13")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert [local_days(p, BERLIN) for p in periods] == [
        (date(2027, 3, 17), date(2027, 3, 30)), (date(2027, 3, 31), date(2027, 4, 13))
    ]
    assert [hours(p) for p in periods] == [335, 336], "DST began on Sunday 28 March"


def test_monthly_periods_end_on_the_first_of_each_month_in_chicago():
    cfg = load("{every: monthly}", starts="2027-01-04", ends="2027-12-17")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert [local_days(p, CHICAGO) for p in periods[:3]] == [
        (date(2027, 1, 4), date(2027, 1, 31)),  # the first is short: from the program's start
        (date(2027, 2, 1), date(2027, 2, 28)),
        (date(2027, 3, 1), date(2027, 3, 31)),
    ]
    assert len(periods) == 12 and local_days(periods[-1], CHICAGO) == (date(2027, 12, 1), date(2027, 12, 17))
    assert hours(periods[2]) == 31 * 24 - 1 and hours(periods[10]) == 30 * 24 + 1, "March and November"


def test_monthly_periods_in_berlin():
    cfg = load("{every: monthly}", zone="Europe/Berlin", starts="2027-03-01", ends="2027-05-01")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert periods[0] == (datetime(2027, 2, 28, 23, tzinfo=UTC), datetime(2027, 3, 31, 22, tzinfo=UTC))
    assert [local_days(p, BERLIN)[0] for p in periods] == [date(2027, 3, 1), date(2027, 4, 1), date(2027, 5, 1)], (
        "an end on the 1st still gets the period holding it"
    )


def test_quarterly_periods_end_on_calendar_quarters():
    cfg = load("{every: quarterly}", zone="Europe/Berlin", starts="2027-02-15", ends="2027-11-30")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert [local_days(p, BERLIN) for p in periods] == [
        (date(2027, 2, 15), date(2027, 3, 31)),
        (date(2027, 4, 1), date(2027, 6, 30)),
        (date(2027, 7, 1), date(2027, 9, 30)),
        (date(2027, 10, 1), date(2027, 11, 30)),  # the last ends with the program
    ]
    assert hours(periods[0]) == 45 * 24 - 1 and hours(periods[3]) == 61 * 24 + 1


def test_quarterly_periods_across_a_year_end_in_chicago():
    cfg = load("{every: quarterly}", starts="2027-11-15", ends="2028-04-01")
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert [local_days(p, CHICAGO)[0] for p in periods] == [date(2027, 11, 15), date(2028, 1, 1), date(2028, 4, 1)]
    assert hours(periods[1]) == 91 * 24 - 1, "2028 is a leap year; DST began on 12 March"


def test_finding_periods_around_an_instant():
    cfg = load("{every: monthly}", starts="2027-01-04", ends="2027-12-17")
    periods = digest_periods(cfg)
    march = periods[2]
    assert period_containing(periods, march[0]) == march
    assert period_containing(periods, march[1] - timedelta(microseconds=1)) == march
    assert period_containing(periods, periods[0][0] - timedelta(seconds=1)) is None
    assert period_containing(periods, periods[-1][1]) is None
    assert previous_period(periods, march) == periods[1] and previous_period(periods, periods[0]) is None
    assert last_ended(periods, march[1]) == march, "a digest sent as March ends covers March"
    assert last_ended(periods, march[1] - timedelta(seconds=1)) == periods[1]
    assert last_ended(periods, periods[0][1] - timedelta(seconds=1)) is None


def test_the_example_program_periods():
    cfg = load_config(EXAMPLE)
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    assert periods[0] == (datetime(2027, 1, 4, 6, tzinfo=UTC), datetime(2027, 2, 1, 6, tzinfo=UTC))
    assert len(periods) == 13


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(["America/Chicago", "Europe/Berlin", "Australia/Sydney", "America/Santiago", "UTC"]),
    starts=st.dates(date(2026, 1, 1), date(2029, 12, 31)),
    days=st.integers(1, 800),
    every=st.sampled_from(["weekly", "2w", "3w", "13w", "monthly", "quarterly"]),
)
def test_periods_are_contiguous_and_cover_any_program(zone, starts, days, every):
    cfg = load(f"{{every: {every}}}", zone=zone, starts=str(starts), ends=str(starts + timedelta(days=days)))
    periods = digest_periods(cfg)
    assert_well_formed(cfg, periods)
    cadence = cfg.digest.every
    for span in periods[1:]:
        first = span[0].astimezone(cfg.program.zone).date()
        if cadence.weeks is not None:
            assert (first - starts).days % (7 * cadence.weeks) == 0
        else:
            assert first.day == 1 and (first.month - 1) % cadence.months == 0
