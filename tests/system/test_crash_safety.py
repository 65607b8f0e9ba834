"""Killing coachd at arbitrary points books nothing twice and sends nothing twice."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
UNTIL = "2027-02-01"
# Kill points, as counts of lines in actions.jsonl: during booking, during the first
# invitations, and deep into the session mail.
KILL_AFTER = (5, 40, 150)
DEADLINE = 120.0


def simulate(out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "coachd", "simulate", str(EXAMPLE), "--until", UNTIL,
                             "--out", str(out), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_after(out: Path, count: int) -> bool:
    """Start a simulation and SIGKILL it once it has logged `count` actions; False if it ended first."""
    process = simulate(out)
    start = time.monotonic()
    already = lines(out / "actions.jsonl")
    while time.monotonic() - start < DEADLINE:
        if process.poll() is not None:
            return False
        if lines(out / "actions.jsonl") - already >= count:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.kill()
    pytest.fail("the simulation neither progressed nor ended in time")


def finish(out: Path) -> None:
    process = simulate(out)
    _, stderr = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, stderr.decode()


def mail_ids(out: Path) -> Counter[str]:
    ids: Counter[str] = Counter()
    for path in (out / "mail").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        ids[str(message["Message-ID"])] += 1
    return ids


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    finish(out)
    return out


def test_sigkill_at_any_point_then_resume_gives_the_same_mail_and_calendar(tmp_path, clean_run):
    killed = 0
    for count in KILL_AFTER:
        killed += kill_after(tmp_path, count)
    finish(tmp_path)
    assert killed >= 2, "the kills should land mid-run"
    expected, got = mail_ids(clean_run), mail_ids(tmp_path)
    duplicates = {mid: n for mid, n in got.items() if n > 1}
    assert not duplicates
    assert set(got) == set(expected)
    assert sorted(p.name for p in (tmp_path / "calendar").glob("*.ics")) == \
        sorted(p.name for p in (clean_run / "calendar").glob("*.ics"))
