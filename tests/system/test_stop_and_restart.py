"""`coachd run` under a service manager (issue 14 points 2 and 3): SIGTERM stops it within seconds
whatever job runs, temporary start-up failures exit 75 (restarted) and mistakes exit 2 (not), and
systemd hears READY, WATCHDOG and STOPPING.

Real subprocesses on loopback: a busy feed that drips, a closed port for PostgreSQL, a read-only or
full tmpfs mounted in a user namespace of its own (skipped where `unshare` cannot make one).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
# The stop grace (runner.STOP_GRACE_SECONDS, 5 s) plus the sender's stop and the interpreter's exit.
STOP_BUDGET = 15.0
START_DEADLINE = 90.0
EX_TEMPFAIL = 75


def program(tmp_path: Path, maria_busy: str | None = None) -> Path:
    """The example program in tmp_path (its busy files beside it), Maria's busy source replaced if asked."""
    folder = tmp_path / "program"
    shutil.copytree(ROOT / "config", folder, ignore=shutil.ignore_patterns("replies"))
    config = folder / "example.yaml"
    if maria_busy is not None:
        text = config.read_text()
        assert "busy: calendars/maria.ics" in text
        config.write_text(text.replace("busy: calendars/maria.ics", f"busy: {maria_busy}"))
    return config


class Daemon:
    """A `coachd run` subprocess whose stderr is read on a thread, so waits on it are bounded."""

    def __init__(self, config: Path, state: Path, env: dict[str, str] | None = None,
                 prefix: list[str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.process = subprocess.Popen([*(prefix or []), sys.executable, "-m", "coachd", "run", str(config),
                                         "--state", str(state)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, env=full_env)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = START_DEADLINE) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(pattern in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    self.kill()
                    pytest.fail(f"no {pattern!r} from coachd run:\n{self.log}")
                self._changed.wait(min(left, 0.5))

    def stop(self) -> float:
        """SIGTERM, then the seconds until the process exited (failing past STOP_BUDGET)."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_BUDGET * 3)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"coachd run still running {STOP_BUDGET * 3:.0f} s after SIGTERM:\n{self.log}")
        self._reader.join(timeout=10)
        return time.monotonic() - sent

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def finish(self, timeout: float = START_DEADLINE) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"coachd run did not exit:\n{self.log}")
        self._reader.join(timeout=10)
        return code

    @property
    def log(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def dripping_feed() -> Iterator[tuple[str, threading.Event]]:
    """An ICS feed on loopback that announces 1 MB and sends a byte every half second: no read times out."""
    asked = threading.Event()
    done = threading.Event()

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.set()
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            try:
                self.wfile.write(b"BEGIN:VCALENDAR\r\n")
                while not done.wait(0.5):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            except OSError:
                pass  # the client went away

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/maria.ics", asked
    finally:
        done.set()
        server.shutdown()
        server.server_close()


def test_sigterm_during_a_sync_stuck_on_a_dripping_feed_stops_within_seconds(tmp_path, dripping_feed):
    url, asked = dripping_feed
    daemon = Daemon(program(tmp_path, url), tmp_path / "state")
    if not asked.wait(START_DEADLINE):
        daemon.kill()
        pytest.fail(f"coachd never asked the feed:\n{daemon.log}")
    took = daemon.stop()
    assert daemon.process.returncode == 0, daemon.log
    assert took < STOP_BUDGET, f"{took:.1f} s to stop:\n{daemon.log}"
    assert "received SIGTERM" in daemon.log and "interrupting it" in daemon.log
    assert "coachd stopped" in daemon.log and "Traceback" not in daemon.log


def _action_keys(log: str, kind: str) -> list[str]:
    return re.findall(rf"coachd\.actions: {kind} (\S+)", log)


def test_sigterm_while_booking_stops_at_the_next_action_and_the_next_run_books_nothing_twice(tmp_path):
    config = program(tmp_path)
    state = tmp_path / "state"
    first = Daemon(config, state)
    first.wait_for("coachd.actions: book ")
    took = first.stop()
    assert first.process.returncode == 0, first.log
    assert took < STOP_BUDGET, f"{took:.1f} s to stop:\n{first.log}"
    _, _, after = first.log.partition("received SIGTERM")
    assert after, first.log
    # The action in hand when the signal came may finish; nothing after it is begun.
    assert len(_action_keys(after, "book")) <= 1, after
    assert len(_action_keys(after, "queue")) <= 50, after  # at most the batch of mail being stored
    assert "stopped at a safe point" in after and "coachd stopped" in after
    assert "coachd running" not in first.log, "the first pass was cut short"

    second = Daemon(config, state)
    second.wait_for("coachd running")
    second.stop()
    assert second.process.returncode == 0, second.log
    books = _action_keys(first.log, "book") + _action_keys(second.log, "book")
    assert len(books) == len(set(books)), "a series booked twice"
    assert len(list((state / "calendar").glob("*.ics"))) == len(set(books))
    queued = _action_keys(first.log, "queue") + _action_keys(second.log, "queue")
    assert queued and len(queued) == len(set(queued)), "an email queued twice"


def test_sd_notify_ready_watchdog_and_stopping_reach_the_service_manager(tmp_path):
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(path))
        manager.settimeout(START_DEADLINE)
        daemon = Daemon(program(tmp_path), tmp_path / "state",
                        env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
        seen: list[str] = []

        def receive_until(line: str, times: int = 1) -> None:
            while seen.count(line) < times:
                try:
                    seen.extend(manager.recv(4096).decode().splitlines())
                except TimeoutError:
                    daemon.kill()
                    pytest.fail(f"no {line} from coachd run (got {seen}):\n{daemon.log}")

        receive_until("READY=1")
        receive_until("WATCHDOG=1")
        daemon.wait_for("coachd running")
        receive_until("WATCHDOG=1", seen.count("WATCHDOG=1") + 2)  # fed while idle too
        daemon.process.send_signal(signal.SIGTERM)
        receive_until("STOPPING=1")
        assert daemon.finish() == 0, daemon.log
    assert any(line.startswith("STATUS=") for line in seen)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_postgresql_unreachable_at_start_exits_75_with_a_clear_message(tmp_path):
    url = f"postgresql+psycopg://coachd@127.0.0.1:{_closed_port()}/coachd"
    daemon = Daemon(EXAMPLE, tmp_path / "state", env={"COACHD_DATABASE_URL": url})
    assert daemon.finish() == EX_TEMPFAIL, daemon.log
    assert "cannot open the database" in daemon.log and "temporary" in daemon.log
    assert "Traceback" not in daemon.log


def test_a_config_mistake_or_a_state_path_under_a_file_still_exits_2(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(EXAMPLE.read_text().replace("timezone: America/Chicago ", "timezone: America/Chicagoo "))
    daemon = Daemon(broken, tmp_path / "state")
    assert daemon.finish() == 2, daemon.log
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    daemon = Daemon(EXAMPLE, blocker / "state")
    assert daemon.finish() == 2, daemon.log
    assert "cannot use the state directory" in daemon.log and "Traceback" not in daemon.log


def test_a_broken_template_stops_run_itself_with_exit_2(tmp_path):
    """The unit has no `coachd check` as ExecStartPre= (systemd restarts a failing pre-start command whatever
    RestartPreventExitStatus= says), so `run` itself must refuse what `check` refuses, with exit 2."""
    config = program(tmp_path)
    (config.parent / "mytemplates" / "agenda").mkdir(parents=True)
    (config.parent / "mytemplates" / "agenda" / "body.txt").write_text("{% if %}never closed\n")
    config.write_text(config.read_text().replace("templates: {folder: null}", "templates: {folder: mytemplates}"))
    daemon = Daemon(config, tmp_path / "state")
    assert daemon.finish() == 2, daemon.log
    assert "template problem" in daemon.log and "agenda/body.txt" in daemon.log
    assert not (tmp_path / "state").exists(), "refused before anything was opened"


def _in_own_mount(tmp_path: Path, setup: str) -> list[str]:
    """A prefix running the command in a user and mount namespace of its own, after `setup` (sh) on $M."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {mount}"],
                           capture_output=True, timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.decode().strip()}")
    return ["unshare", "-rm", "sh", "-c", f'M={mount}; {setup} && exec "$@"', "sh"]


def test_a_read_only_state_exits_75(tmp_path):
    prefix = _in_own_mount(tmp_path, 'mount -t tmpfs -o size=4m tmpfs "$M" && mkdir -m 700 "$M/state" '
                                     '&& mount -o remount,ro "$M"')
    daemon = Daemon(EXAMPLE, tmp_path / "mnt" / "state", prefix=prefix)
    assert daemon.finish() == EX_TEMPFAIL, daemon.log
    assert "Read-only file system" in daemon.log and "temporary" in daemon.log
    assert "Traceback" not in daemon.log


def test_a_full_disk_at_start_exits_75(tmp_path):
    prefix = _in_own_mount(tmp_path, 'mount -t tmpfs -o size=256k tmpfs "$M" && mkdir -m 700 "$M/state" '
                                     '&& (cat /dev/zero > "$M/filler" 2>/dev/null; true)')
    daemon = Daemon(EXAMPLE, tmp_path / "mnt" / "state", prefix=prefix)
    assert daemon.finish() == EX_TEMPFAIL, daemon.log
    assert "temporary" in daemon.log and "Traceback" not in daemon.log
