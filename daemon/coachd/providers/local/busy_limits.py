"""Bounds on one person's busy source (ICS file or feed): time, bytes, events, occurrences.

A busy calendar is written by someone else. Whatever it holds (a feed that never ends or drips a byte
at a time, a rule repeating every second, a million events), reading it must end in bounded time and
memory, and a source over a limit is that person's failure, named with the limit and where to raise it.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests
import urllib3

__all__ = ["FetchResponse", "LimitExceeded", "SourceLimits", "read_file_bounded", "requests_fetch"]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class SourceLimits:
    """Per source, per read. The config's `daemon.busy_limits` (same names) sets them."""

    deadline_seconds: float = 30.0  # one fetch or file read, parse and expansion, start to end
    max_bytes: int = 20_000_000  # size of the file or feed body
    max_events: int = 20_000  # VEVENT components in the calendar
    max_instances: int = 100_000  # occurrences the rules generate, from their start to the window's end

    def __post_init__(self) -> None:
        for name in ("deadline_seconds", "max_bytes", "max_events", "max_instances"):
            if not getattr(self, name) > 0:
                raise ValueError(f"busy_limits.{name} must be positive, got {getattr(self, name)!r}")

    def shown(self, name: str) -> str:
        """A limit as people read it: 30 s, 20 MB, 20,000."""
        value = getattr(self, name)
        if name == "deadline_seconds":
            return f"{value:g} s"
        if name == "max_bytes":
            return f"{value / 1_000_000:g} MB" if value >= 1_000_000 else f"{value:,} bytes"
        return f"{value:,}"


class LimitExceeded(Exception):
    """A source went over one of its limits; the message names the limit and where to raise it."""

    def __init__(self, limits: SourceLimits, name: str, what: str):
        super().__init__(
            f"{what}: over daemon.busy_limits.{name} ({limits.shown(name)}); "
            f"raise it in the config's daemon.busy_limits if this calendar is right"
        )
        self.limit = name


@dataclass(frozen=True)
class FetchResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names


Fetch = Callable[[str, Mapping[str, str], SourceLimits], FetchResponse]


def requests_fetch(url: str, headers: Mapping[str, str], limits: SourceLimits) -> FetchResponse:
    """GET `url` within `limits.deadline_seconds` in all and `limits.max_bytes` of body.

    The body is streamed and counted as it arrives: a feed that never ends stops at the size cap, one that
    drips stops at the deadline (a per-read timeout alone never fires while a byte comes now and then).
    Raises requests.RequestException or OSError on network failure, LimitExceeded over a limit.
    """
    deadline = time.monotonic() + limits.deadline_seconds
    # The socket timeout bounds one connect or one read (a feed that hangs); the loop below bounds the
    # whole (a feed that drips, where each read gets a byte before any timeout).
    try:
        return _fetch(url, headers, limits, deadline)
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise LimitExceeded(limits, "deadline_seconds",
                            f"no answer from the feed within {limits.deadline_seconds:g} s") from None
    except urllib3.exceptions.HTTPError as exc:  # from reading the body ourselves, past requests
        raise requests.ConnectionError(f"the feed broke off: {exc}") from exc


def _fetch(url: str, headers: Mapping[str, str], limits: SourceLimits, deadline: float) -> FetchResponse:
    with requests.get(url, headers=dict(headers), timeout=limits.deadline_seconds, stream=True) as response:
        found = {k.lower(): v for k, v in response.headers.items()}
        if response.status_code != 200:
            return FetchResponse(response.status_code, b"", found)
        declared = found.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.max_bytes:
            raise LimitExceeded(limits, "max_bytes", f"the feed is {int(declared):,} bytes")
        body = bytearray()
        raw = response.raw
        while True:
            if time.monotonic() > deadline:
                raise LimitExceeded(limits, "deadline_seconds",
                                    f"the feed was still arriving after {limits.deadline_seconds:g} s "
                                    f"({len(body):,} bytes so far)")
            # read1 returns what has arrived (at most _CHUNK) instead of waiting for a full chunk,
            # so the deadline is checked between any two bytes of a slow feed.
            chunk = raw.read1(_CHUNK, decode_content=True)
            if not chunk:  # the end of the body
                break
            body += chunk
            if len(body) > limits.max_bytes:
                raise LimitExceeded(limits, "max_bytes", f"the feed is larger than {limits.max_bytes:,} bytes")
        return FetchResponse(response.status_code, bytes(body), found)


def read_file_bounded(path: Path, limits: SourceLimits) -> bytes:
    """A regular file's bytes, refused before reading when larger than `limits.max_bytes`."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        # A FIFO or device has no size to check and may never end (opening a FIFO alone can block).
        raise OSError(f"{path} is not a regular file")
    if info.st_size > limits.max_bytes:
        raise LimitExceeded(limits, "max_bytes", f"the file is {info.st_size:,} bytes")
    with path.open("rb") as handle:
        data = handle.read(limits.max_bytes + 1)  # the file may have grown since stat
    if len(data) > limits.max_bytes:
        raise LimitExceeded(limits, "max_bytes", f"the file is larger than {limits.max_bytes:,} bytes")
    return data
