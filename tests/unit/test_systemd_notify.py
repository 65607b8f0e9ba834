"""sd_notify(3) without libsystemd: datagrams to $NOTIFY_SOCKET, a path or an abstract '@name'."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from coachd.runtime.systemd_notify import Notifier


def test_messages_reach_an_abstract_socket_and_the_watchdog_is_rate_limited(tmp_path: Path) -> None:
    name = f"coachd-test-{os.getpid()}-{tmp_path.name}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(b"\0" + name.encode())
        server.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": f"@{name}", "WATCHDOG_USEC": "60000000"})
        assert notifier.watchdog_interval == 60.0
        notifier.ready("serving program p")
        assert server.recv(4096).decode().splitlines() == ["READY=1", "STATUS=serving program p"]
        notifier.watchdog()
        notifier.watchdog()  # within a quarter of the interval: not sent again
        notifier.stopping("stopping on SIGTERM")
        assert server.recv(4096) == b"WATCHDOG=1"
        assert server.recv(4096).decode().splitlines() == ["STOPPING=1", "STATUS=stopping on SIGTERM"]
        notifier.close()


def test_outside_systemd_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    notifier.ready("x")
    notifier.watchdog()
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "no-such-socket"), "WATCHDOG_PID": "1", "WATCHDOG_USEC": "5"})
    assert gone.watchdog_interval is None, "a watchdog meant for another process is not ours"
    gone.ready("x")  # a socket that is gone is said once in the log, never raised


@pytest.mark.timeout(30)  # a blocking send would hang here
def test_a_manager_that_does_not_read_never_blocks_the_daemon(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        for n in range(10_000):  # far more than an unread datagram queue holds (net.unix.max_dgram_qlen)
            notifier.status(f"running job {n}")
        assert server.recv(4096) == b"STATUS=running job 0"
        notifier.close()
