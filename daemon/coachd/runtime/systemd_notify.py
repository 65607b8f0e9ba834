"""Telling systemd how the daemon is doing (sd_notify(3)): READY, WATCHDOG, STOPPING and STATUS.

The protocol is one datagram of `KEY=value` lines to the AF_UNIX socket named by $NOTIFY_SOCKET
(a path, or '@name' for Linux's abstract namespace). A few lines of socket code, so coachd needs
no libsystemd to build against; outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("coachd.systemd")


class Notifier:
    """The service manager's ear; `watchdog()` is cheap to call often (sent at most every quarter interval)."""

    def __init__(self, environ: dict[str, str] | os._Environ[str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval = _watchdog_seconds(env)
        self._last_ping = float("-inf")
        self._socket: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> None:
        if self.address is None:
            return
        try:
            if self._socket is None:
                # Non-blocking: a manager that does not read (its queue full) must never stall a job.
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                                             | socket.SOCK_NONBLOCK)
            self._socket.sendto("\n".join(lines).encode(), self.address)
        except BlockingIOError:
            pass  # dropped: the next ping or status follows within a quarter of the watchdog interval
        except OSError as error:
            # systemd gone or the socket replaced: the daemon runs on; said once, not at every ping.
            if not self._warned:
                log.warning("could not notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), error)
                self._warned = True

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def stopping(self, status: str) -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def watchdog(self) -> None:
        """Ping the watchdog if it is on and a quarter of its interval has passed since the last ping."""
        if self.watchdog_interval is None or self.address is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_interval / 4:
            self._last_ping = now
            self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()  # abstract namespace: a leading NUL, no file
    if value.startswith("/"):
        return value
    return None  # vsock addresses (vsock:CID:PORT) are for VMs talking to their host: not ours


def _watchdog_seconds(env: dict[str, str] | os._Environ[str]) -> float | None:
    """$WATCHDOG_USEC in seconds, when it is meant for this process ($WATCHDOG_PID unset or ours)."""
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None
