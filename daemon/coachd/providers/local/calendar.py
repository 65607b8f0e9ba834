"""The `local` calendar: one .ics file per series in a folder, readable and editable by people."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import zlib
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import icalendar

from coachd.model.types import BookedSeries
from coachd.mail.ical import CalendarParseError, ParsedEvent, parse_series_calendar, series_calendar
from coachd.providers.files import TEMP_PREFIX, atomic_write
from coachd.providers.base import (
    CalendarCapabilities,
    CalendarEntry,
    CalendarProvider,
    CalendarStoreError,
    SeriesNotFound,
    SyncCursorExpired,
    SyncResult,
)

log = logging.getLogger(__name__)

_CURSOR_VERSION = 1
_MAX_NAME_BYTES = 200  # most file systems stop at 255; leave room for ".ics" and temp names


def file_name(uid: str) -> str:
    """The file name for a UID: percent-encoded (so two UIDs never share a file), hashed if too long."""
    name = quote(uid, safe="@-_+=")
    if name.startswith("."):  # a dot file would be hidden, and scans skip hidden files
        name = "%2E" + name[1:]
    if len(name) > _MAX_NAME_BYTES:
        name = f"{name[:_MAX_NAME_BYTES - 17]}-{hashlib.sha1(uid.encode()).hexdigest()[:16]}"
    return f"{name}.ics"


class LocalCalendar(CalendarProvider):
    """A folder of .ics files, one per series, each a whole VCALENDAR without METHOD."""

    # A folder invites nobody (coachd mails its own iTIP), and a person may edit a file by hand.
    capabilities = CalendarCapabilities(invites_attendees=False, hand_edits=True)

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path_for(self, uid: str) -> Path:
        return self.folder / file_name(uid)

    def upsert_series(
        self, series: BookedSeries, organizer_name: str, organizer_email: str, *, dtstamp: datetime
    ) -> None:
        data = series_calendar(
            series, organizer_name=organizer_name, organizer_email=organizer_email, dtstamp=dtstamp
        )
        path = self.path_for(series.spec.uid)
        # Skip identical content so a repeated write does not even touch the file (sync stays quiet).
        if _read(path) != data:
            self._write(path, data)

    def cancel_series(self, uid: str) -> None:
        path = self.path_for(uid)
        data = _read(path)
        if data is None:
            raise SeriesNotFound(uid)
        try:
            cal = icalendar.Calendar.from_ical(data)
        except ValueError as exc:
            raise CalendarStoreError(f"{path}: cannot cancel {uid}, the file does not parse: {exc}") from exc
        events = [ev for ev in cal.walk("VEVENT") if str(ev.get("UID", "")) == uid]
        if not events:
            raise SeriesNotFound(uid)
        if all(str(ev.get("STATUS", "")).upper() == "CANCELLED" for ev in events):
            return
        for ev in events:
            ev.pop("STATUS", None)
            ev.add("status", "CANCELLED")
        self._write(path, cal.to_ical())

    def list_series(self) -> list[CalendarEntry]:
        entries: dict[str, CalendarEntry] = {}
        for name in sorted(self._scan()):
            found, error = self._load(name)
            if error:
                log.warning("local calendar: skipping %s: %s", self.folder / name, error)
            for entry in found:
                # A hand-made copy of a series must not shadow the file coachd writes for that UID.
                if entry.uid not in entries or file_name(entry.uid) == name:
                    entries[entry.uid] = entry
        return [entries[uid] for uid in sorted(entries)]

    def sync(self, cursor: str | None) -> SyncResult:
        before = {} if cursor is None else _decode_cursor(cursor)
        now = self._scan()
        entries: list[CalendarEntry] = []
        errors: list[tuple[str, str]] = []
        state: dict[str, list] = {}
        for name in sorted(now):
            stamp = now[name]
            previous = before.get(name)
            if previous is not None and previous[:3] == stamp:
                state[name] = previous
                continue
            found, error = self._load(name)
            if error:
                errors.append((str(self.folder / name), error))
                # Keep the UIDs last seen here: a broken file is not a deleted series. The
                # impossible stamp makes the next sync read it again, so the error stays visible.
                state[name] = [-1, -1, -1, previous[3] if previous else []]
                continue
            entries.extend(found)
            state[name] = [*stamp, [e.uid for e in found]]
        seen_before = {uid for value in before.values() for uid in value[3]}
        seen_now = {uid for value in state.values() for uid in value[3]}
        return SyncResult(entries, sorted(seen_before - seen_now), _encode_cursor(state), errors)

    # --- files ---------------------------------------------------------------------------------

    def _write(self, path: Path, data: bytes) -> None:
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise CalendarStoreError(f"cannot write {path}: {exc}") from exc

    def _scan(self) -> dict[str, list[int]]:
        """Every visible .ics file with what identifies its version: mtime_ns, size, inode."""
        result: dict[str, list[int]] = {}
        with os.scandir(self.folder) as it:
            for item in it:
                if item.name.startswith((".", TEMP_PREFIX)) or not item.name.endswith(".ics"):
                    continue
                try:
                    st = item.stat()
                except FileNotFoundError:  # removed while we looked
                    continue
                if item.is_file():
                    # The inode changes on every os.replace, so our own rewrites are seen even
                    # when mtime and size happen to match the previous version.
                    result[item.name] = [st.st_mtime_ns, st.st_size, st.st_ino]
        return result

    def _load(self, name: str) -> tuple[list[CalendarEntry], str | None]:
        data = _read(self.folder / name)
        if data is None:
            return [], None
        try:
            return [_entry(parsed, data) for parsed in parse_series_calendar(data)], None
        except CalendarParseError as exc:
            return [], str(exc)
        except Exception as exc:  # noqa: BLE001 - a hand-edited file must never stop the daemon
            return [], f"unreadable calendar: {exc!r}"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _entry(parsed: ParsedEvent, raw: bytes) -> CalendarEntry:
    return CalendarEntry(
        uid=parsed.uid,
        sequence=parsed.sequence,
        cancelled=parsed.cancelled,
        start=parsed.start,
        end=parsed.end,
        timezone=parsed.timezone,
        rrule=parsed.rrule,
        exdates=parsed.exdates,
        overrides=parsed.overrides,
        attendees=dict(parsed.attendees),
        occurrence_attendees={rid: dict(found) for rid, found in parsed.occurrence_attendees.items()},
        key=parsed.key,
        kind=parsed.kind,
        raw=raw,
    )


def _encode_cursor(state: dict[str, list]) -> str:
    payload = json.dumps({"v": _CURSOR_VERSION, "files": state}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(zlib.compress(payload.encode())).decode()


def _decode_cursor(cursor: str) -> dict[str, list]:
    """The per-file state a cursor recorded; anything unexpected means a full resync."""
    try:
        payload = json.loads(zlib.decompress(base64.urlsafe_b64decode(cursor.encode())))
        files = payload["files"]
        if payload.get("v") != _CURSOR_VERSION or not isinstance(files, dict):
            raise ValueError("unknown cursor version")
        for value in files.values():
            if not (
                isinstance(value, list)
                and len(value) == 4
                and all(isinstance(n, int) for n in value[:3])
                and isinstance(value[3], list)
                and all(isinstance(u, str) for u in value[3])
            ):
                raise ValueError("malformed file state")
        return files
    except (ValueError, TypeError, KeyError, AttributeError, zlib.error, binascii.Error) as exc:
        raise SyncCursorExpired(f"local calendar cursor is not usable, sync again from scratch: {exc}") from exc
