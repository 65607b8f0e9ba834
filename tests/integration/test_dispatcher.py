"""`coachd run`'s mail sender process: mail goes out as soon as it is queued, over SMTP, once; a
sender that dies is started again; a stop hands back what it had claimed."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from coachd.runtime.clock import SystemClock, VirtualClock
from coachd.config import load_config_text
from coachd.runtime.sender_process import MailDispatcher
from coachd.execute.executor import Executor
from coachd.runtime.jobs import JobOutcome, program_jobs
from coachd.execute.outbox import drain
from coachd.runtime.wiring import open_program
from coachd.runtime.runner import JobRunner
from coachd.store.models import Outbox
from tests.support.smtp_servers import Recorder, smtp_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"


def config_file(tmp_path: Path, send: str = "{provider: file}") -> Path:
    text = (EXAMPLE.read_text().replace("send: {provider: file}", f"send: {send}")
            .replace("busy: calendars/", f"busy: {ROOT / 'config' / 'calendars'}/"))
    path = tmp_path / "program.yaml"
    path.write_text(text)
    return path


def statuses(state: Path, cfg) -> dict[str, int]:
    program = open_program(cfg, state, VirtualClock(datetime.now(timezone.utc)), locked=False)
    try:
        with program.store.session() as db:
            return dict(db.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
    finally:
        program.close()


def until(condition, seconds: float = 60.0) -> bool:
    """Poll `condition` until it holds or the deadline passes (the sender is another process)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def queue_now(state: Path, cfg) -> int:
    """Plan and book at the real time, without sending: what the scheduler's process does."""
    now = datetime.now(timezone.utc)
    program = open_program(cfg, state, VirtualClock(now))
    try:
        runner = JobRunner(program, program_jobs(program, Executor(program), send=lambda _now: JobOutcome()))
        for job in runner.jobs:
            assert runner.run(job, now) is not None
        with program.store.session() as db:
            return db.scalar(select(func.count()).select_from(Outbox)) or 0
    finally:
        program.close()


def test_run_sends_over_smtp_from_its_sender_process_once_each_and_stops_it_on_sigterm(tmp_path):
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = config_file(tmp_path, f"{{provider: smtp, host: 127.0.0.1, port: {port}, tls: none}}")
        cfg = load_config_text(config.read_text(), config)
        state = tmp_path / "state"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        daemon = subprocess.Popen([sys.executable, "-m", "coachd", "run", str(config), "--state", str(state)],
                                  stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
        try:
            assert until(lambda: (state / "coachd.sqlite").exists() and statuses(state, cfg).get("sent", 0) > 0
                         and not statuses(state, cfg).get("queued"), 120), "the first pass's mail was sent"
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, log = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, log
    sent = statuses(state, cfg)["sent"]
    ids = [email.message_from_bytes(r.data)["Message-ID"] for r in recorder.received]
    assert len(ids) == sent and len(set(ids)) == sent, "every queued email arrived once"
    assert recorder.sessions == 1, "one connection for the batch"
    [started] = [line for line in log.splitlines() if "mail sender started (pid" in line]
    pid = int(started.split("(pid ")[1].rstrip(")"))
    assert not Path(f"/proc/{pid}").exists(), "the sender process exited with the daemon"
    assert "coachd stopped" in log and "Traceback" not in log


def test_a_sender_that_died_is_started_again_and_sends_what_was_queued(tmp_path):
    config = config_file(tmp_path)
    cfg = load_config_text(config.read_text(), config)
    state = tmp_path / "state"
    queued = queue_now(state, cfg)
    assert queued > 0
    dispatcher = MailDispatcher(cfg, state, timedelta(minutes=1), log_level="warning")
    try:
        dispatcher.start()
        first = dispatcher._process
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)  # type: ignore[arg-type]
        first.join(30)
        dispatcher.watch(datetime.now(timezone.utc))
        assert dispatcher.restarts == 1 and dispatcher._process is not first
        assert until(lambda: statuses(state, cfg).get("sent") == queued), statuses(state, cfg)
    finally:
        dispatcher.stop()
    assert len(list((state / "mail").glob("*.eml"))) == queued, "each email once, by whichever sender"


def test_a_stopping_drain_hands_back_what_it_claimed(tmp_path):
    config = config_file(tmp_path)
    cfg = load_config_text(config.read_text(), config)
    state = tmp_path / "state"
    queued = queue_now(state, cfg)
    program = open_program(cfg, state, SystemClock())
    try:
        now = datetime.now(timezone.utc)
        answers = iter([False, False])
        sent = drain(program, Executor(program), now, batch=50, stopping=lambda: next(answers, True))
        assert sent == 2
        with program.store.session() as db:
            waiting = list(db.scalars(select(Outbox).where(Outbox.status == "queued")))
        assert len(waiting) == queued - 2
        # Not held for the claim's lease: the next drain, at once, may send them.
        assert all(row.next_attempt_at <= now for row in waiting)
        assert drain(program, Executor(program), now) == queued - 2
    finally:
        program.close()


def test_the_sender_stops_by_itself_when_the_daemon_is_killed_outright(tmp_path):
    config = config_file(tmp_path)
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen([sys.executable, "-m", "coachd", "run", str(config), "--state", str(state)],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
    assert daemon.stderr is not None
    pid = None
    deadline = time.monotonic() + 60
    for line in daemon.stderr:
        if "mail sender started (pid" in line:
            pid = int(line.split("(pid ")[1].split(")")[0])
        if "coachd running" in line or time.monotonic() > deadline:
            break
    assert pid is not None
    daemon.kill()
    daemon.wait(30)
    assert until(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in _state_of(pid), 30), \
        "an orphaned sender would go on mailing with a config nobody holds the lock for"


def _state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "gone"
