"""The calendar role's contract: what every CalendarProvider keeps, with flags for what only some can do.

Built as vdirsyncer's storage tests are (tests/storage/__init__.py): one base class that each
implementation subclasses, supplying a fresh `provider` and, for each capability it declares, the
test-only hook that drives the calendar from outside (a person editing it, an attendee answering,
the service expiring a cursor). A capability declared False skips the tests that need it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import pytest

from coachd.mail.ical import canonical_rrule
from coachd.model.types import UTC, Attendee, BookedSeries, Override, Role, SeriesSpec, SessionKind, to_utc
from coachd.providers.base import CalendarEntry, CalendarProvider, SeriesNotFound, SyncCursorExpired

CHICAGO = ZoneInfo("America/Chicago")
STAMP = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ORG_NAME, ORG_EMAIL = "Northwind Coaching Office", "coaching@northwind.example"
MARIA = Attendee("maria", "Maria Lopez", "maria@northwind.example", "America/Chicago", Role.COACH)
ANA = Attendee("ana", "Ana Souza", "ana@northwind.example", "America/Sao_Paulo", Role.COACHEE)
BEN = Attendee("ben", "Ben Carter", "ben@northwind.example", "Europe/London", Role.COACHEE)
EVERYONE = {"maria@northwind.example", "ana@northwind.example", "ben@northwind.example"}


def make_series(uid: str = "northwind-2027-group-americas@coachd.example", **changes: object) -> BookedSeries:
    """The Americas group, weekly on Mondays at 10:00 Chicago through 2027; `changes` edit spec or booking."""
    spec = SeriesSpec(
        key=f"series:{uid}",
        uid=uid,
        kind=SessionKind.GROUP,
        title="Americas Enterprise — group",
        timezone="America/Chicago",
        start=datetime(2027, 1, 4, 10, 0, tzinfo=CHICAGO),
        length=timedelta(minutes=60),
        host=MARIA,
        attendees=(ANA, BEN),
        every=timedelta(weeks=1),
        until=datetime(2027, 12, 17, 23, 59, tzinfo=CHICAGO),
        team_id="americas",
    )
    series_changes = {k: changes.pop(k) for k in ("sequence", "overrides", "cancelled") if k in changes}
    return BookedSeries(replace(spec, **changes), **series_changes)


def moved(rid_local: datetime, hours: int) -> Override:
    """The occurrence at `rid_local` moved `hours` later."""
    return Override(rid_local, rid_local + timedelta(hours=hours), rid_local + timedelta(hours=hours + 1))


def dropped(rid_local: datetime) -> Override:
    """The occurrence at `rid_local` cancelled on its own (the series goes on)."""
    return Override(rid_local, rid_local, rid_local + timedelta(hours=1), cancelled=True)


def as_utc(override: Override) -> Override:
    return Override(to_utc(override.recurrence_id), to_utc(override.start), to_utc(override.end), override.cancelled)


class HandEdits(Protocol):
    """A person changing the calendar outside coachd (a calendar app, an editor, the web UI)."""

    def move_occurrence(self, uid: str, recurrence_id: datetime, start: datetime, end: datetime) -> None: ...

    def cancel_series(self, uid: str) -> None: ...

    def delete_series(self, uid: str) -> None: ...


# (series UID, attendee's email, PARTSTAT, the occurrence's original start or None for the whole series)
Respond = Callable[[str, str, str, datetime | None], None]
# A cursor the calendar no longer honours, made from one it gave (Google: 410 fullSyncRequired).
ExpireCursor = Callable[[str], str]
# What the calendar service itself mailed: (attendee's email, METHOD) in order (REQUEST, CANCEL).
Invitations = Callable[[], list[tuple[str, str]]]


class CalendarContract:
    """Behaviour every CalendarProvider must have. Subclasses provide a fresh, empty `provider`,
    set the capability flags, and provide the hook fixture of each capability they declare."""

    # People can change the calendar outside coachd; hook: `hand` (HandEdits).
    hand_edits = True
    # Attendees' answers (PARTSTAT) are visible, per occurrence too; hook: `respond`.
    attendee_responses = True
    # The calendar service mails attendees itself (Google sendUpdates, Exchange); hook: `invitations`.
    invites_attendees = False
    # The calendar can tell a cursor it gave has expired; hook: `expire_cursor`.
    sync_cursor_expires = True

    @pytest.fixture
    def provider(self) -> CalendarProvider:
        raise NotImplementedError("subclasses provide a fresh, empty calendar")

    # --- capabilities: each fixture skips what the implementation declares it cannot do ------------

    @pytest.fixture
    def requires_hand_edits(self) -> None:
        if not self.hand_edits:
            pytest.skip("this calendar cannot be edited by hand")

    @pytest.fixture
    def requires_attendee_responses(self) -> None:
        if not self.attendee_responses:
            pytest.skip("this calendar does not show attendees' answers")

    @pytest.fixture
    def requires_invites_attendees(self) -> None:
        if not self.invites_attendees:
            pytest.skip("this calendar does not invite attendees itself")

    @pytest.fixture
    def requires_expiring_cursor(self) -> None:
        if not self.sync_cursor_expires:
            pytest.skip("this calendar's cursors do not expire")

    # --- hooks (test-only: they belong to the subclass, never to the production Protocol) ----------

    @pytest.fixture
    def hand(self, provider: CalendarProvider) -> HandEdits:
        raise NotImplementedError("declare hand_edits = False or provide the `hand` fixture")

    @pytest.fixture
    def respond(self, provider: CalendarProvider) -> Respond:
        raise NotImplementedError("declare attendee_responses = False or provide the `respond` fixture")

    @pytest.fixture
    def invitations(self, provider: CalendarProvider) -> Invitations:
        raise NotImplementedError("declare invites_attendees = False or provide the `invitations` fixture")

    @pytest.fixture
    def expire_cursor(self, provider: CalendarProvider) -> ExpireCursor:
        raise NotImplementedError("declare sync_cursor_expires = False or provide the `expire_cursor` fixture")

    # --- helpers -----------------------------------------------------------------------------------

    def upsert(self, provider: CalendarProvider, series: BookedSeries) -> None:
        provider.upsert_series(series, ORG_NAME, ORG_EMAIL, dtstamp=STAMP)

    def only(self, provider: CalendarProvider, uid: str) -> CalendarEntry:
        found = [e for e in provider.list_series() if e.uid == uid]
        assert len(found) == 1, f"expected exactly one entry for {uid}, got {found}"
        return found[0]

    def assert_holds(self, entry: CalendarEntry, series: BookedSeries) -> None:
        """What the calendar holds means the same occurrences as what was planned."""
        rebuilt = replace(series.spec, start=entry.start, exdates=entry.exdates).occurrences(entry.overrides)
        assert rebuilt == series.occurrences()

    # --- create, list ----------------------------------------------------------------------------

    def test_satisfies_the_protocol(self, provider: CalendarProvider) -> None:
        assert isinstance(provider, CalendarProvider)

    def test_declared_capabilities_are_the_providers_own(self, provider: CalendarProvider) -> None:
        declared = getattr(provider, "capabilities", None)
        if declared is None:
            pytest.skip("the provider declares no capabilities yet")
        assert declared.invites_attendees == self.invites_attendees
        assert declared.hand_edits == self.hand_edits

    def test_empty_calendar_lists_nothing(self, provider: CalendarProvider) -> None:
        assert provider.list_series() == []
        result = provider.sync(None)
        assert (result.entries, result.deleted_uids) == ([], [])
        assert result.cursor

    def test_upserted_series_is_listed_as_booked(self, provider: CalendarProvider) -> None:
        series = make_series(sequence=2)
        self.upsert(provider, series)
        entry = self.only(provider, series.spec.uid)
        assert entry.sequence == 2 and not entry.cancelled
        assert entry.start == series.spec.start and entry.timezone == "America/Chicago"
        assert entry.end - entry.start == timedelta(hours=1)
        assert entry.rrule == canonical_rrule(series.spec.rrule())
        assert entry.key == series.spec.key and entry.kind == "group"
        assert set(entry.attendees) == EVERYONE
        assert entry.attendees["ana@northwind.example"] == "NEEDS-ACTION"

    def test_a_series_created_with_overrides_and_cancelled_occurrences_holds_them(
            self, provider: CalendarProvider) -> None:
        series = make_series(overrides=(moved(datetime(2027, 2, 1, 10, tzinfo=CHICAGO), 2),
                                        dropped(datetime(2027, 3, 1, 10, tzinfo=CHICAGO))))
        self.upsert(provider, series)
        entry = self.only(provider, series.spec.uid)
        assert entry.overrides == tuple(as_utc(o) for o in series.overrides)
        self.assert_holds(entry, series)
        assert datetime(2027, 3, 1, 16, tzinfo=UTC) in {o.start for o in series.occurrences() if o.cancelled}

    def test_series_are_listed_by_uid(self, provider: CalendarProvider) -> None:
        for uid in ("b-series@coachd", "a-series@coachd", "c-series@coachd"):
            self.upsert(provider, make_series(uid))
        assert [e.uid for e in provider.list_series()] == ["a-series@coachd", "b-series@coachd", "c-series@coachd"]

    # --- update, end, cancel -------------------------------------------------------------------------

    def test_upsert_twice_gives_the_same_state(self, provider: CalendarProvider) -> None:
        series = make_series()
        self.upsert(provider, series)
        once = provider.list_series()
        self.upsert(provider, series)
        assert provider.list_series() == once
        assert len(once) == 1

    def test_upsert_replaces_the_series_with_the_same_uid(self, provider: CalendarProvider) -> None:
        first = make_series()
        self.upsert(provider, first)
        rid = datetime(2027, 3, 15, 10, tzinfo=CHICAGO)
        second = first.bumped(
            overrides=(moved(rid, 3), dropped(datetime(2027, 4, 5, 10, tzinfo=CHICAGO))),
            spec=replace(first.spec, exdates=(datetime(2027, 5, 31, 10, tzinfo=CHICAGO),)),
        )
        self.upsert(provider, second)
        entry = self.only(provider, first.spec.uid)
        assert entry.sequence == 1
        assert entry.exdates == (datetime(2027, 5, 31, 15, tzinfo=UTC),)
        assert entry.overrides == tuple(as_utc(o) for o in second.overrides)
        self.assert_holds(entry, second)

    def test_ending_a_series_early_stops_its_occurrences(self, provider: CalendarProvider) -> None:
        series = make_series(overrides=(moved(datetime(2027, 2, 1, 10, tzinfo=CHICAGO), 2),))
        self.upsert(provider, series)
        ended = series.bumped(spec=replace(series.spec, until=datetime(2027, 3, 31, 23, 59, tzinfo=CHICAGO)))
        self.upsert(provider, ended)
        entry = self.only(provider, series.spec.uid)
        assert entry.rrule == canonical_rrule(ended.spec.rrule()) and not entry.cancelled
        self.assert_holds(entry, ended)
        assert max(o.start for o in ended.occurrences()) == datetime(2027, 3, 29, 15, tzinfo=UTC)

    def test_cancel_keeps_the_series_visible_as_cancelled(self, provider: CalendarProvider) -> None:
        series = make_series(sequence=4)
        self.upsert(provider, series)
        provider.cancel_series(series.spec.uid)
        entry = self.only(provider, series.spec.uid)
        assert entry.cancelled and entry.sequence == 4
        provider.cancel_series(series.spec.uid)  # again: nothing more happens
        assert provider.list_series() == [entry]

    def test_cancel_of_unknown_uid_raises(self, provider: CalendarProvider) -> None:
        with pytest.raises(SeriesNotFound):
            provider.cancel_series("never-booked@coachd")

    def test_upserting_a_cancelled_series_records_the_cancellation(self, provider: CalendarProvider) -> None:
        series = make_series()
        self.upsert(provider, series)
        self.upsert(provider, series.bumped(cancelled=True))
        entry = self.only(provider, series.spec.uid)
        assert entry.cancelled and entry.sequence == 1

    # --- incremental sync ------------------------------------------------------------------------------

    def test_sync_reports_changes_since_the_cursor(self, provider: CalendarProvider) -> None:
        a, b = make_series("a@coachd"), make_series("b@coachd")
        self.upsert(provider, a)
        self.upsert(provider, b)
        full = provider.sync(None)
        assert sorted(e.uid for e in full.entries) == ["a@coachd", "b@coachd"]
        quiet = provider.sync(full.cursor)
        assert quiet.entries == [] and quiet.deleted_uids == []
        self.upsert(provider, b.bumped(spec=replace(b.spec, title="Renamed")))
        changed = provider.sync(quiet.cursor)
        assert [(e.uid, e.sequence) for e in changed.entries] == [("b@coachd", 1)]
        provider.cancel_series("a@coachd")
        cancelled = provider.sync(changed.cursor)
        assert [(e.uid, e.cancelled) for e in cancelled.entries] == [("a@coachd", True)]

    def test_unusable_cursor_asks_for_a_full_sync(self, provider: CalendarProvider) -> None:
        self.upsert(provider, make_series())
        with pytest.raises(SyncCursorExpired):
            provider.sync("certainly-not-a-cursor")
        assert len(provider.sync(None).entries) == 1

    def test_an_expired_cursor_asks_for_a_full_resync_that_misses_nothing(
            self, provider: CalendarProvider, requires_expiring_cursor: None, expire_cursor: ExpireCursor) -> None:
        self.upsert(provider, make_series("a@coachd"))
        cursor = provider.sync(None).cursor
        self.upsert(provider, make_series("b@coachd"))
        with pytest.raises(SyncCursorExpired):
            provider.sync(expire_cursor(cursor))
        resync = provider.sync(None)
        assert sorted(e.uid for e in resync.entries) == ["a@coachd", "b@coachd"]
        assert provider.sync(resync.cursor).entries == []

    # --- what people do outside coachd ------------------------------------------------------------------

    def test_a_hand_moved_occurrence_shows_up_in_sync(self, provider: CalendarProvider, requires_hand_edits: None,
                                                      hand: HandEdits) -> None:
        series = make_series()
        self.upsert(provider, series)
        cursor = provider.sync(None).cursor
        rid = datetime(2027, 2, 1, 10, tzinfo=CHICAGO)
        hand.move_occurrence(series.spec.uid, rid, rid + timedelta(hours=5), rid + timedelta(hours=6))
        result = provider.sync(cursor)
        (entry,) = result.entries
        later = to_utc(rid) + timedelta(hours=5)
        assert entry.overrides == (Override(to_utc(rid), later, later + timedelta(hours=1)),)
        assert provider.sync(result.cursor).entries == []

    def test_a_hand_cancelled_series_shows_up_in_sync(self, provider: CalendarProvider, requires_hand_edits: None,
                                                      hand: HandEdits) -> None:
        series = make_series()
        self.upsert(provider, series)
        cursor = provider.sync(None).cursor
        hand.cancel_series(series.spec.uid)
        (entry,) = provider.sync(cursor).entries
        assert entry.cancelled

    def test_a_series_deleted_by_hand_is_reported_as_a_deleted_uid(
            self, provider: CalendarProvider, requires_hand_edits: None, hand: HandEdits) -> None:
        self.upsert(provider, make_series("keep@coachd"))
        self.upsert(provider, make_series("gone@coachd"))
        cursor = provider.sync(None).cursor
        hand.delete_series("gone@coachd")
        result = provider.sync(cursor)
        assert result.deleted_uids == ["gone@coachd"] and result.entries == []
        assert [e.uid for e in provider.list_series()] == ["keep@coachd"]

    # --- attendees' answers ---------------------------------------------------------------------------------

    def test_an_answer_to_the_whole_series_is_seen(self, provider: CalendarProvider,
                                                   requires_attendee_responses: None, respond: Respond) -> None:
        series = make_series()
        self.upsert(provider, series)
        cursor = provider.sync(None).cursor
        respond(series.spec.uid, "ana@northwind.example", "ACCEPTED", None)
        (entry,) = provider.sync(cursor).entries
        assert entry.attendees["ana@northwind.example"] == "ACCEPTED"
        assert entry.attendees["ben@northwind.example"] == "NEEDS-ACTION"
        assert entry.occurrence_attendees == {}

    def test_an_answer_to_one_occurrence_is_kept_for_that_occurrence_only(
            self, provider: CalendarProvider, requires_attendee_responses: None, respond: Respond) -> None:
        series = make_series()
        self.upsert(provider, series)
        respond(series.spec.uid, "ana@northwind.example", "ACCEPTED", None)
        cursor = provider.sync(None).cursor
        rid = datetime(2027, 2, 8, 10, tzinfo=CHICAGO)
        respond(series.spec.uid, "ana@northwind.example", "DECLINED", rid)
        (entry,) = provider.sync(cursor).entries
        assert entry.attendees["ana@northwind.example"] == "ACCEPTED"
        assert entry.occurrence_attendees[to_utc(rid)]["ana@northwind.example"] == "DECLINED"
        assert set(entry.occurrence_attendees) == {to_utc(rid)}
        self.assert_holds(entry, series)  # answering moves nothing

    # --- a calendar that mails attendees itself -----------------------------------------------------------------

    def test_the_calendar_invites_updates_and_cancels_each_attendee_once(
            self, provider: CalendarProvider, requires_invites_attendees: None, invitations: Invitations) -> None:
        series = make_series()
        self.upsert(provider, series)
        assert sorted(invitations()) == sorted((e, "REQUEST") for e in EVERYONE)
        self.upsert(provider, series)  # unchanged: nobody is mailed again
        assert len(invitations()) == len(EVERYONE)
        provider.cancel_series(series.spec.uid)
        assert sorted(invitations()[len(EVERYONE):]) == sorted((e, "CANCEL") for e in EVERYONE)
