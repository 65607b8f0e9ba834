"""Time zone names and wall times for Microsoft Graph: CLDR's Windows names, DST edges, names Graph returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from coachd.providers.microsoft.zones import (
    AmbiguousWallTime,
    ZoneNotExpressible,
    accepted_by_graph,
    from_graph,
    graph_zone,
    iana_zone,
    parse_wall_time,
    to_graph,
)

ROOT = Path(__file__).resolve().parents[2]
# Zones whose clocks do something unusual: DST at midnight (Sao Paulo, until 2019), a 30-minute DST
# (Lord Howe), a 45-minute offset (Kathmandu), a 45-minute offset with DST (Chatham), and "negative"
# DST in tzdata's rules (Dublin: winter time is the exception).
EDGE_ZONES = ("America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "Europe/Dublin")


def config_zones() -> set[str]:
    """Every real zone named by a config coachd ships or tests with (typos kept there on purpose are left out)."""
    zones: set[str] = set()
    for path in [*ROOT.glob("config/*.yaml"), *ROOT.glob("tests/fixtures/config/**/*.yaml")]:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, ValueError):  # fixtures broken on purpose
            continue
        if not isinstance(data, dict):
            continue
        program = data.get("program") if isinstance(data.get("program"), dict) else {}
        people = data.get("people") if isinstance(data.get("people"), list) else []
        names = [program.get("timezone"), *(p.get("timezone") for p in people if isinstance(p, dict))]
        zones.update(n for n in names if isinstance(n, str) and _is_zone(n))
    return zones


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


CONFIG_ZONES = sorted(config_zones())


def test_the_configs_name_zones() -> None:
    # If the scan found nothing, the per-zone test below would pass vacuously.
    assert {"America/Chicago", "Asia/Tokyo", "America/Sao_Paulo", "Europe/London"} <= set(CONFIG_ZONES)


@pytest.mark.parametrize("zone", sorted(set(CONFIG_ZONES) | set(EDGE_ZONES)))
def test_every_zone_coachd_uses_has_a_graph_name_that_reads_back_with_the_same_clock(zone: str) -> None:
    name = graph_zone(zone)
    assert accepted_by_graph(name)
    assert iana_zone(name, prefer=zone) == zone
    # Without the hint, CLDR's main zone for that Windows name keeps the same clock for years ahead.
    other = ZoneInfo(iana_zone(name))
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment.year < 2031:
        assert moment.astimezone(other).utcoffset() == moment.astimezone(ZoneInfo(zone)).utcoffset(), moment
        moment += timedelta(hours=6)


@pytest.mark.parametrize(("zone", "windows"), [
    ("America/Chicago", "Central Standard Time"),
    ("America/Sao_Paulo", "E. South America Standard Time"),
    ("Australia/Lord_Howe", "Lord Howe Standard Time"),
    ("Asia/Kathmandu", "Nepal Standard Time"),
    ("Pacific/Chatham", "Chatham Islands Standard Time"),
    ("Europe/Dublin", "GMT Standard Time"),
    ("UTC", "UTC"),
    ("Etc/UTC", "UTC"),
])
def test_windows_names_are_sent(zone: str, windows: str) -> None:
    assert graph_zone(zone) == windows


@pytest.mark.parametrize("zone", ["Antarctica/Troll", "EST5EDT", "Not/A_Zone", ""])
def test_a_zone_graph_cannot_name_is_refused_by_name(zone: str) -> None:
    with pytest.raises(ZoneNotExpressible, match=repr(zone).replace("/", ".")):
        graph_zone(zone)


def test_times_go_out_as_local_wall_time_with_the_zone_never_utc_labelled() -> None:
    assert to_graph(datetime(2027, 1, 11, 15, 0, tzinfo=UTC), "America/Chicago") == {
        "dateTime": "2027-01-11T09:00:00", "timeZone": "Central Standard Time"}
    # Summer: the same 09:00 wall time is another UTC hour.
    assert to_graph(datetime(2027, 7, 12, 14, 0, tzinfo=UTC), "America/Chicago") == {
        "dateTime": "2027-07-12T09:00:00", "timeZone": "Central Standard Time"}


def test_kathmandu_quarter_hour_offset() -> None:
    assert to_graph(datetime(2027, 3, 1, 3, 15, tzinfo=UTC), "Asia/Kathmandu") == {
        "dateTime": "2027-03-01T09:00:00", "timeZone": "Nepal Standard Time"}


def test_sao_paulo_dst_that_started_at_midnight() -> None:
    # 2018-11-04: 00:00 jumped to 01:00. 02:59 UTC is 23:59 the day before; 03:00 UTC is already 01:00.
    assert to_graph(datetime(2018, 11, 4, 2, 59, tzinfo=UTC), "America/Sao_Paulo")["dateTime"] == "2018-11-03T23:59:00"
    assert to_graph(datetime(2018, 11, 4, 3, 0, tzinfo=UTC), "America/Sao_Paulo")["dateTime"] == "2018-11-04T01:00:00"
    with pytest.raises(ValueError, match="does not exist"):
        from_graph({"dateTime": "2018-11-04T00:30:00", "timeZone": "E. South America Standard Time"})


def test_lord_howe_half_hour_dst() -> None:
    # 2027-10-03 02:00 -> 02:30; 2027-04-04 02:00 -> 01:30 (01:30-02:00 shown twice).
    assert to_graph(datetime(2027, 10, 2, 15, 30, tzinfo=UTC), "Australia/Lord_Howe")["dateTime"] == "2027-10-03T02:30:00"
    with pytest.raises(AmbiguousWallTime, match="twice"):
        to_graph(datetime(2027, 4, 3, 14, 45, tzinfo=UTC), "Australia/Lord_Howe")  # 01:45, first time
    with pytest.raises(AmbiguousWallTime):
        to_graph(datetime(2027, 4, 3, 15, 15, tzinfo=UTC), "Australia/Lord_Howe")  # 01:45, second time
    assert to_graph(datetime(2027, 4, 3, 15, 30, tzinfo=UTC), "Australia/Lord_Howe")["dateTime"] == "2027-04-04T02:00:00"


def test_chatham_dst_at_a_quarter_to() -> None:
    # 2027-09-26 02:45 -> 03:45 (+12:45 -> +13:45).
    assert to_graph(datetime(2027, 9, 25, 14, 0, tzinfo=UTC), "Pacific/Chatham")["dateTime"] == "2027-09-26T03:45:00"
    with pytest.raises(ValueError, match="does not exist"):
        from_graph({"dateTime": "2027-09-26T03:00:00", "timeZone": "Chatham Islands Standard Time"})
    with pytest.raises(AmbiguousWallTime):
        from_graph({"dateTime": "2027-04-04T03:00:00", "timeZone": "Chatham Islands Standard Time"})


def test_dublin_negative_dst_reads_back_as_dublin() -> None:
    summer = to_graph(datetime(2027, 6, 1, 8, 0, tzinfo=UTC), "Europe/Dublin")
    assert summer == {"dateTime": "2027-06-01T09:00:00", "timeZone": "GMT Standard Time"}
    back = from_graph(summer, prefer="Europe/Dublin")
    assert back == datetime(2027, 6, 1, 8, 0, tzinfo=UTC) and back.tzinfo == ZoneInfo("Europe/Dublin")
    winter = to_graph(datetime(2027, 12, 1, 9, 0, tzinfo=UTC), "Europe/Dublin")
    assert winter["dateTime"] == "2027-12-01T09:00:00"
    with pytest.raises(AmbiguousWallTime):
        to_graph(datetime(2027, 10, 31, 0, 30, tzinfo=UTC), "Europe/Dublin")  # 01:30 IST, before 01:30 GMT


@given(st.sampled_from(EDGE_ZONES + ("America/Chicago", "Asia/Tokyo")),
       st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2035, 12, 31)))
def test_every_instant_round_trips_or_is_refused_as_ambiguous(zone: str, naive: datetime) -> None:
    moment = naive.replace(tzinfo=UTC, microsecond=0)
    try:
        sent = to_graph(moment, zone)
    except AmbiguousWallTime:
        local = moment.astimezone(ZoneInfo(zone))
        assert local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()
        return
    assert "+" not in sent["dateTime"] and not sent["dateTime"].endswith("Z")
    assert from_graph(sent, prefer=zone) == moment


@pytest.mark.parametrize(("name", "prefer", "iana"), [
    ("Eastern Standard Time", None, "America/New_York"),
    ("GMT Standard Time", None, "Europe/London"),
    ("GMT Standard Time", "Europe/Dublin", "Europe/Dublin"),
    ("GMT Standard Time", "Asia/Tokyo", "Europe/London"),  # a hint of another zone is not taken
    ("UTC", None, "UTC"),
    ("UTC", "Etc/UTC", "Etc/UTC"),
    ("Asia/Kathmandu", None, "Asia/Kathmandu"),  # Graph returns the IANA name an event was made with
])
def test_names_graph_returns_map_to_iana(name: str, prefer: str | None, iana: str) -> None:
    assert iana_zone(name, prefer) == iana


@pytest.mark.parametrize("name", ["tzone://Microsoft/Custom", "Customized Time Zone", "Mars Standard Time"])
def test_custom_and_unknown_zones_are_a_clear_error(name: str) -> None:
    with pytest.raises(ZoneNotExpressible) as caught:
        iana_zone(name)
    assert name in str(caught.value)
    if "ustom" in name:
        assert "custom time zone" in str(caught.value)


def test_graph_datetime_text_with_seven_fraction_digits() -> None:
    assert parse_wall_time("2027-01-11T09:00:00.0000000") == datetime(2027, 1, 11, 9, 0)
    assert parse_wall_time("2027-01-11T09:00:00.1234567") == datetime(2027, 1, 11, 9, 0, 0, 123456)
    assert from_graph({"dateTime": "2027-01-11T15:00:00.0000000", "timeZone": "UTC"}) == datetime(
        2027, 1, 11, 15, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a Graph dateTime"):
        parse_wall_time("2027-01-11T09:00:00Z")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_graph(datetime(2027, 1, 11, 9, 0), "America/Chicago")


def test_a_refused_zone_suggests_one_with_the_same_clock_that_graph_can_name() -> None:
    with pytest.raises(ZoneNotExpressible, match="keeps the same clock") as caught:
        graph_zone("Europe/Uzhgorod")  # a tzdata link CLDR no longer lists
    twin = str(caught.value).rsplit("; ", 1)[1].split(" keeps")[0]
    assert graph_zone(twin)
    # No zone keeps Troll's clock (+00 in winter, +02 in summer): nothing is suggested.
    with pytest.raises(ZoneNotExpressible, match="nearby city"):
        graph_zone("Antarctica/Troll")


@pytest.mark.parametrize(("name", "accepted"), [
    ("Eastern Standard Time", True), ("UTC", True), ("America/Chicago", True), ("Europe/Kyiv", True),
    ("Asia/Manila", False),  # a real IANA zone Graph does not list: its Windows name must be sent
    ("Mars Standard Time", False), ("", False),
])
def test_what_graph_accepts_as_a_zone_name(name: str, accepted: bool) -> None:
    assert accepted_by_graph(name) is accepted
