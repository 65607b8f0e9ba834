"""Keeping sessions off the program's blackout days: excluded (EXDATE), or made up the same week."""

from __future__ import annotations

from dataclasses import replace

from coachd.plan.repair import Rules, best_in_week
from coachd.plan.timelines import Timelines
from coachd.model.types import BookedSeries, Occurrence, Override, SessionKind, to_utc


def keep_off_blackouts(series: BookedSeries, timelines: Timelines, rules: Rules,
                       make_up: bool) -> BookedSeries | None:
    """The series with no future occurrence on a blackout day (None when it already has none).

    An occurrence on a blackout day is moved to the best time in its own week where
    everyone is in hours and free, when `make_up` is set and such a time exists;
    otherwise it is excluded. An exclusion whose day is no longer a blackout day
    (the config changed) is lifted.
    """
    spec = series.spec
    if series.cancelled:
        return None
    zone = rules.blackout_zone
    exdates = {to_utc(d) for d in spec.exdates}
    overrides = {to_utc(o.recurrence_id): o for o in series.overrides}
    changed = False
    for rid in spec.original_starts():
        if rules.horizon is not None and rid >= rules.horizon:
            break
        override = overrides.get(rid)
        start = to_utc(override.start) if override else rid
        if min(rid, start) < rules.earliest or (override is not None and override.pinned):
            continue
        blackout_day = rid.astimezone(zone).date() in rules.blackout
        if rid in exdates:
            if not blackout_day:
                # The day is open again, unless this is a check-in skipping a week with a one-to-one.
                if spec.kind is not SessionKind.CHECK_IN:
                    exdates.discard(rid)
                    changed = True
                continue
            if not make_up:
                continue
        elif start.astimezone(zone).date() not in rules.blackout:
            continue
        occurrence = Occurrence(spec.uid, spec.kind, rid, start, start + spec.length)
        best = best_in_week(series, occurrence, timelines, rules) if make_up else None
        if best is not None and best.fits_everyone:
            exdates.discard(rid)
            overrides[rid] = Override(rid, best.start, best.end)
            changed = True
        elif rid not in exdates:
            exdates.add(rid)
            overrides.pop(rid, None)
            changed = True
    if not changed:
        return None
    return replace(series, spec=replace(spec, exdates=tuple(sorted(exdates))),
                   overrides=tuple(sorted(overrides.values(), key=lambda o: o.recurrence_id)))
