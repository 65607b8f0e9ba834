"""Time zone names between coachd (IANA) and Microsoft Graph (Windows names), and wall times in both.

The mapping is CLDR's windowsZones.xml as maintained in tzlocal (`tzlocal.windows_tz`), never a copy of
our own: a new zone or a renamed one arrives with a tzlocal release.

Graph accepts every Windows zone name and a listed subset of IANA names (GRAPH_IANA_NAMES). We send the
Windows name whenever CLDR has one. Stricter: Graph's documents warn that create and update "might not
support all" of the listed IANA names, and `mailboxSettings` and Outlook itself speak Windows names, so
the Windows name is the form every Graph method takes. A listed IANA name is sent only for a zone CLDR
does not map. Times go out as the zone's local wall time beside the zone's name (what Outlook shows and
what recurrence expands in), never as UTC digits labelled with another zone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

# The IANA names Graph's dateTimeTimeZone accepts besides Windows names (Graph v1.0 reference,
# "dateTimeTimeZone resource type", "Additional time zones"; the document writes "Europe/Kyiv (Kiev)",
# "Asia/Toshkent (Tashkent)", "Asia/Astana (Almaty)" and "Asia/Yangon (Rangoon)": both spellings kept).
GRAPH_IANA_NAMES = frozenset({
    "Etc/GMT+12", "Etc/GMT+11", "Pacific/Honolulu", "America/Anchorage", "America/Santa_Isabel",
    "America/Los_Angeles", "America/Phoenix", "America/Chihuahua", "America/Denver", "America/Guatemala",
    "America/Chicago", "America/Mexico_City", "America/Regina", "America/Bogota", "America/New_York",
    "America/Indiana/Indianapolis", "America/Caracas", "America/Asuncion", "America/Halifax", "America/Cuiaba",
    "America/La_Paz", "America/Santiago", "America/St_Johns", "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires", "America/Cayenne", "America/Godthab", "America/Montevideo",
    "America/Bahia", "Etc/GMT+2", "Atlantic/Azores", "Atlantic/Cape_Verde", "Africa/Casablanca", "Etc/GMT",
    "Europe/London", "Atlantic/Reykjavik", "Europe/Berlin", "Europe/Budapest", "Europe/Paris", "Europe/Warsaw",
    "Africa/Lagos", "Africa/Windhoek", "Europe/Bucharest", "Asia/Beirut", "Africa/Cairo", "Asia/Damascus",
    "Africa/Johannesburg", "Europe/Kyiv", "Europe/Kiev", "Europe/Istanbul", "Asia/Jerusalem", "Asia/Amman",
    "Asia/Baghdad", "Europe/Kaliningrad", "Asia/Riyadh", "Africa/Nairobi", "Asia/Tehran", "Asia/Dubai",
    "Asia/Baku", "Europe/Moscow", "Indian/Mauritius", "Asia/Tbilisi", "Asia/Yerevan", "Asia/Kabul",
    "Asia/Karachi", "Asia/Toshkent", "Asia/Tashkent", "Asia/Kolkata", "Asia/Colombo", "Asia/Kathmandu",
    "Asia/Astana", "Asia/Almaty", "Asia/Dhaka", "Asia/Yekaterinburg", "Asia/Yangon", "Asia/Rangoon",
    "Asia/Bangkok", "Asia/Novosibirsk", "Asia/Shanghai", "Asia/Krasnoyarsk", "Asia/Singapore", "Australia/Perth",
    "Asia/Taipei", "Asia/Ulaanbaatar", "Asia/Irkutsk", "Asia/Tokyo", "Asia/Seoul", "Australia/Adelaide",
    "Australia/Darwin", "Australia/Brisbane", "Australia/Sydney", "Pacific/Port_Moresby", "Australia/Hobart",
    "Asia/Yakutsk", "Pacific/Guadalcanal", "Asia/Vladivostok", "Pacific/Auckland", "Etc/GMT-12", "Pacific/Fiji",
    "Asia/Magadan", "Pacific/Tongatapu", "Pacific/Apia", "Pacific/Kiritimati",
})

# What Graph says for UTC, and the IANA names that mean it.
UTC_NAME = "UTC"
_UTC_ALIASES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "Etc/Universal", "Etc/Zulu", "GMT", "Universal", "Zulu"})
# An event made in Outlook with a zone Windows does not name: Graph reports this instead of rules we could
# read back (the rules are only in the event's own customTimeZone, which Graph's events do not return).
CUSTOM_ZONE_PREFIX = "tzone://Microsoft/"
# Graph writes seven fractional digits ("2027-01-11T09:00:00.0000000"); datetime takes at most six.
_GRAPH_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?$")


class ZoneNotExpressible(ValueError):
    """A zone that has no name Graph accepts (coachd -> Graph), or a Graph zone with no IANA zone (Graph -> coachd)."""


class AmbiguousWallTime(ValueError):
    """A wall time that a zone shows twice (the hour repeated when clocks go back): a zone name cannot tell which."""


def graph_zone(iana: str) -> str:
    """The zone name to send Graph for an IANA zone: its Windows name, else the IANA name if Graph lists it.

    Raises ZoneNotExpressible for a zone neither CLDR maps nor Graph lists (Antarctica/Troll, the POSIX-style
    EST5EDT, an unknown name), naming the zone.
    """
    _require_iana(iana)
    if iana in _UTC_ALIASES:
        return UTC_NAME
    windows = tz_win.get(iana)
    if windows is not None:
        return windows
    if iana in GRAPH_IANA_NAMES:
        return iana
    twin = _same_clock(iana)
    hint = f"{twin} keeps the same clock" if twin else "use the zone of a nearby city that has one"
    raise ZoneNotExpressible(
        f"time zone {iana!r} has no Windows name in CLDR's mapping and is not one of the IANA names Microsoft "
        f"Graph accepts; {hint}")


def iana_zone(name: str, prefer: str | None = None) -> str:
    """The IANA zone for a zone name Graph returned (a Windows name, "UTC", or an IANA name).

    A Windows name stands for several IANA zones with today's rules in common (GMT Standard Time: London,
    Dublin, Lisbon, ...): `prefer`, when it is one of them (the zone coachd booked the series in), is kept,
    so that a series read back is not seen as moved to another zone. Otherwise CLDR's main zone for that
    Windows name. Raises ZoneNotExpressible for a custom zone ("tzone://Microsoft/Custom") or an unknown name.
    """
    text = name.strip()
    if text.startswith(CUSTOM_ZONE_PREFIX) or text.lower().startswith("customized time zone"):
        raise ZoneNotExpressible(
            f"the event uses a custom time zone ({text!r}) that Graph does not describe: coachd cannot tell its "
            "rules; set a named time zone on the event in Outlook")
    if text in _UTC_ALIASES:
        return prefer if prefer in _UTC_ALIASES else UTC_NAME
    if text in win_tz:
        if prefer is not None and tz_win.get(prefer) == text:
            return prefer
        return win_tz[text]
    if _is_iana(text):
        return text
    raise ZoneNotExpressible(f"time zone {text!r} from Graph is neither a Windows zone name nor an IANA zone")


def to_graph(moment: datetime, iana: str) -> dict[str, str]:
    """An absolute time as Graph's dateTimeTimeZone: the wall time in `iana`, beside Graph's name for it.

    Raises AmbiguousWallTime when that wall time happens twice in the zone (clocks going back): sent as a
    wall time plus a zone name, Exchange would have to guess which of the two was meant.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time sent to Graph must be timezone-aware, got naive {moment.isoformat()}")
    name = graph_zone(iana)
    local = moment.astimezone(_zone(iana))
    if name != UTC_NAME and _is_ambiguous(local):
        raise AmbiguousWallTime(
            f"{local.replace(tzinfo=None).isoformat()} happens twice in {iana} (clocks go back then): "
            "a wall time with a zone name cannot say which")
    return {"dateTime": local.replace(tzinfo=None).isoformat(timespec="seconds"), "timeZone": name}


def from_graph(value: Mapping[str, str], prefer: str | None = None) -> datetime:
    """A dateTimeTimeZone from Graph as an aware datetime in its IANA zone (see iana_zone for `prefer`).

    A wall time the zone never shows (skipped when clocks go forward) or shows twice raises: Graph does not
    write either for the times it computes, so one means the value is not what coachd takes it for.
    Reading with `Prefer: outlook.timezone="UTC"` avoids both by construction.
    """
    wall = parse_wall_time(value["dateTime"])
    iana = iana_zone(value.get("timeZone") or UTC_NAME, prefer)
    zone = _zone(iana)
    local = wall.replace(tzinfo=zone)
    if iana in _UTC_ALIASES:
        return local
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise ValueError(f"{wall.isoformat()} does not exist in {iana} (clocks go forward over it)")
    if _is_ambiguous(local):
        raise AmbiguousWallTime(f"{wall.isoformat()} happens twice in {iana}: Graph's value cannot say which")
    return local


def parse_wall_time(text: str) -> datetime:
    """Graph's dateTime text (no offset, up to seven fractional digits) as a naive datetime."""
    match = _GRAPH_DATETIME.match(text.strip())
    if match is None:
        raise ValueError(f"not a Graph dateTime (YYYY-MM-DDThh:mm:ss[.fffffff]): {text!r}")
    wall = datetime.fromisoformat(match.group(1))
    fraction = match.group(2)
    return wall + timedelta(microseconds=int(fraction[:6].ljust(6, "0"))) if fraction else wall


def expressible(iana: str) -> bool:
    """Whether graph_zone(iana) has a name to send."""
    try:
        graph_zone(iana)
    except ZoneNotExpressible:
        return False
    return True


def accepted_by_graph(name: str) -> bool:
    """Whether Graph takes `name` as a dateTimeTimeZone zone (for the local fake: others fail there with
    TimeZoneNotSupportedException)."""
    return bool(name) and (name in win_tz or name in GRAPH_IANA_NAMES or name == UTC_NAME)


def _same_clock(iana: str, now: datetime | None = None) -> str | None:
    """A zone Graph can name whose clock matched `iana`'s every week of the past year and the next two
    (its own region first): a suggestion for the admin, never applied by itself."""
    start = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0) - timedelta(weeks=52)
    samples = [start + timedelta(weeks=w, hours=w % 24) for w in range(52 * 3)]
    zone = ZoneInfo(iana)
    clock = [t.astimezone(zone).utcoffset() for t in samples]
    region = iana.split("/")[0]
    # CLDR's main zones first (the names people know best), of the Windows zones covering most places.
    main = set(win_tz.values())
    reach = Counter(tz_win.values())
    order = sorted(tz_win, key=lambda name: (name not in main, name.split("/")[0] != region, -reach[tz_win[name]], name))
    for candidate in order:
        if candidate and "/" in candidate and _is_iana(candidate):
            other = ZoneInfo(candidate)
            if all(t.astimezone(other).utcoffset() == offset for t, offset in zip(samples, clock)):
                return candidate
    return None


def _is_ambiguous(local: datetime) -> bool:
    # A wall time that exists is shown twice when its two folds have different offsets (in a gap they
    # differ too: callers rule gaps out first).
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def _zone(iana: str) -> ZoneInfo:
    _require_iana(iana)
    return ZoneInfo(iana)


def _is_iana(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _require_iana(name: str) -> None:
    if not _is_iana(name):
        raise ZoneNotExpressible(f"{name!r} is not an IANA time zone")
