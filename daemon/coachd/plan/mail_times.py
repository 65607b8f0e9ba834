"""When mail sent ahead of a session reaches its reader: inside their working hours, on a working day.

An agenda due `agenda.before` ahead of a Monday 09:00 session would arrive on Sunday morning; a
reader whose week runs sun-thu would get a Sunday session's agenda on their Saturday. The rule:
the mail goes out at `latest` (the session's start less `agenda.before`) when that instant is inside the
reader's working hours on one of their working days; otherwise at the start of their previous working
period (the last one that begins before `latest`), so it is the first thing they see that day and it still
arrives at least `agenda.before` ahead of the session. The reader's own zone, hours and days decide.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from coachd.model.types import Interval
from coachd.plan.slots import Availability, working_intervals

# How far back to look for the reader's previous working period: a week holds one of their working days.
SEARCH_BACK = timedelta(days=8)
# The most a due time moves earlier: the planner looks this much further ahead for mail due now.
MAX_SHIFT = SEARCH_BACK


def in_working_hours(latest: datetime, reader: Availability | None) -> datetime:
    """The instant, at or before `latest`, that mail for `reader` goes out (see the module's rule)."""
    if reader is None or not reader.days:
        return latest
    # The window ends just after `latest` so that a period holding `latest` is seen whole up to it.
    spans = working_intervals(reader, Interval(latest - SEARCH_BACK, latest + timedelta(seconds=1)))
    earlier = [span for span in spans if span.start <= latest]
    if not earlier:
        return latest
    last = earlier[-1]
    if latest < last.end:
        return latest  # inside their hours already
    return last.start
