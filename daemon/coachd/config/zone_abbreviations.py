"""Time-zone abbreviations people write where an IANA zone belongs, and the zones they usually mean.

An abbreviation names an offset, not a place: "PST" never turns into summer time, and "IST" is India,
Ireland or Israel depending on who wrote it. Some of them (EST, MST, HST, CET, EET, WET) even exist in
the tz database as legacy fixed-offset or rule zones that do not follow any country's real changes, so
a config that says `timezone: EST` would book New York's sessions an hour off all summer. They are all
refused with the place names that fix them.
"""

from __future__ import annotations

import re

# abbreviation (upper case) -> ((where, IANA zone), ...); the first is the most common reading.
_MEANINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "IST": (("India", "Asia/Kolkata"), ("Ireland", "Europe/Dublin"), ("Israel", "Asia/Jerusalem")),
    "CET": (("Germany", "Europe/Berlin"), ("France", "Europe/Paris"), ("Spain", "Europe/Madrid"),
            ("Italy", "Europe/Rome")),
    "CEST": (("Germany", "Europe/Berlin"), ("France", "Europe/Paris"), ("Spain", "Europe/Madrid"),
             ("Italy", "Europe/Rome")),
    "MET": (("Germany", "Europe/Berlin"), ("France", "Europe/Paris")),
    "WET": (("Portugal", "Europe/Lisbon"), ("the Canary Islands", "Atlantic/Canary")),
    "WEST": (("Portugal", "Europe/Lisbon"), ("the Canary Islands", "Atlantic/Canary")),
    "EET": (("Greece", "Europe/Athens"), ("Finland", "Europe/Helsinki"), ("Ukraine", "Europe/Kyiv"),
            ("Egypt", "Africa/Cairo")),
    "EEST": (("Greece", "Europe/Athens"), ("Finland", "Europe/Helsinki"), ("Ukraine", "Europe/Kyiv")),
    "BST": (("the United Kingdom", "Europe/London"), ("Bangladesh", "Asia/Dhaka")),
    "MSK": (("Moscow", "Europe/Moscow"),),
    "PST": (("the US Pacific coast", "America/Los_Angeles"), ("the Philippines", "Asia/Manila")),
    "PDT": (("the US Pacific coast", "America/Los_Angeles"),),
    "PT": (("the US Pacific coast", "America/Los_Angeles"),),
    "MST": (("the US Mountain zone", "America/Denver"), ("Arizona", "America/Phoenix")),
    "MDT": (("the US Mountain zone", "America/Denver"),),
    "MT": (("the US Mountain zone", "America/Denver"), ("Arizona", "America/Phoenix")),
    "CST": (("the US Central zone", "America/Chicago"), ("China", "Asia/Shanghai"), ("Cuba", "America/Havana")),
    "CDT": (("the US Central zone", "America/Chicago"),),
    "CT": (("the US Central zone", "America/Chicago"),),
    "EST": (("the US East coast", "America/New_York"), ("Toronto", "America/Toronto")),
    "EDT": (("the US East coast", "America/New_York"), ("Toronto", "America/Toronto")),
    "ET": (("the US East coast", "America/New_York"), ("Toronto", "America/Toronto")),
    "AKST": (("Alaska", "America/Anchorage"),),
    "AKDT": (("Alaska", "America/Anchorage"),),
    "HST": (("Hawaii", "Pacific/Honolulu"),),
    "AST": (("Atlantic Canada", "America/Halifax"), ("Puerto Rico", "America/Puerto_Rico"),
            ("Saudi Arabia", "Asia/Riyadh")),
    "ADT": (("Atlantic Canada", "America/Halifax"),),
    "NST": (("Newfoundland", "America/St_Johns"),),
    "NDT": (("Newfoundland", "America/St_Johns"),),
    "BRT": (("São Paulo", "America/Sao_Paulo"),),
    "ART": (("Argentina", "America/Argentina/Buenos_Aires"),),
    "AEST": (("Sydney and Melbourne", "Australia/Sydney"), ("Queensland", "Australia/Brisbane")),
    "AEDT": (("Sydney and Melbourne", "Australia/Sydney"),),
    "ACST": (("Adelaide", "Australia/Adelaide"), ("Darwin", "Australia/Darwin")),
    "ACDT": (("Adelaide", "Australia/Adelaide"),),
    "AWST": (("Perth", "Australia/Perth"),),
    "NZST": (("New Zealand", "Pacific/Auckland"),),
    "NZDT": (("New Zealand", "Pacific/Auckland"),),
    "JST": (("Japan", "Asia/Tokyo"),),
    "KST": (("South Korea", "Asia/Seoul"),),
    "HKT": (("Hong Kong", "Asia/Hong_Kong"),),
    "SGT": (("Singapore", "Asia/Singapore"),),
    "PHT": (("the Philippines", "Asia/Manila"),),
    "WIB": (("Jakarta", "Asia/Jakarta"),),
    "ICT": (("Thailand", "Asia/Bangkok"), ("Vietnam", "Asia/Ho_Chi_Minh")),
    "PKT": (("Pakistan", "Asia/Karachi"),),
    "GST": (("the United Arab Emirates", "Asia/Dubai"),),
    "SAST": (("South Africa", "Africa/Johannesburg"),),
    "WAT": (("Nigeria", "Africa/Lagos"),),
    "CAT": (("Mozambique and Zambia", "Africa/Maputo"),),
    "EAT": (("Kenya", "Africa/Nairobi"),),
}
# UTC+2, GMT-05:00, +0530: an offset, which no country keeps all year and none changes on its own.
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*[+-]\s*\d{1,2}(?::?\d{2})?$", re.IGNORECASE)
# Written with its summer and winter halves, as in "CET/CEST" or "EST5EDT".
_PAIR = re.compile(r"^([A-Z]{2,5})\s*(?:/|\d+)\s*[A-Z]{2,5}$", re.IGNORECASE)


def abbreviation_problem(value: str) -> str | None:
    """Why `value` is an abbreviation or an offset rather than a zone, naming the zones it may mean; None
    when it is neither (then it is looked up in the tz database as it is)."""
    text = value.strip()
    pair = _PAIR.match(text)
    key = (pair.group(1) if pair else text).upper()
    meanings = _MEANINGS.get(key)
    if meanings is not None:
        places = ", ".join(f"{where} {zone}" if i else f"{where} is {zone}" for i, (where, zone) in enumerate(meanings))
        kind = "ambiguous abbreviation" if len({zone for _, zone in meanings}) > 1 else "an abbreviation, not a zone"
        return f"{value!r}: {kind}; {places} (a zone name follows summer time where the place does)"
    if _OFFSET.match(text):
        return (f"{value!r}: a UTC offset, not a zone; offsets do not follow summer time: name the place, "
                "e.g. 'Europe/Berlin' or 'Asia/Kolkata' (or 'UTC' for no offset at all)")
    return None
