"""Who holds an outbox claim: "<host>:<pid>:<token>", and whether that process is still there.

The token is the process's start time (from /proc, in clock ticks since boot) where the system has
one, so that a pid reused by an unrelated process is not taken for the drainer that died; elsewhere
a random token, and then only the pid can be checked.
"""

from __future__ import annotations

import os
import secrets
import socket
from functools import cache
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


@cache
def _token(pid: int) -> str:
    return start_time(pid) or f"r{secrets.token_hex(6)}"


def this_process() -> str:
    """The name this process's claims carry (stable for the life of the process, new after a fork)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_token(pid)}"


def is_gone(holder: str) -> bool:
    """Whether the process named `holder` has certainly ended: it ran on this host and its pid is
    no longer alive, or is alive as another process (another start time). A holder on another host
    (replicas sharing a PostgreSQL database) cannot be checked from here: never gone, its claims
    wait for their lease. Containers that share one host name but not one pid namespace would defeat
    the pid check; containers get host names of their own by default."""
    host, _, rest = holder.partition(":")
    pid_text, _, token = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if holder == this_process():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, under another user
    started = start_time(pid)
    # A random token cannot be compared: a live pid is taken as the same process.
    return started is not None and not token.startswith("r") and started != token
