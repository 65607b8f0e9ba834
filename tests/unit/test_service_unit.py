"""systemd/coachd.service restarts coachd on temporary failures and never on mistakes, bounds it, and
expects the notifications the daemon sends (issue 14 point 3)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "coachd.service"


def directives() -> dict[str, dict[str, list[str]]]:
    """section -> key -> every value (systemd allows a key more than once), comments and blanks skipped."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{UNIT.name}: not a directive: {raw!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(section: str, key: str) -> str:
    values = directives()[section].get(key)
    assert values, f"{key}= missing from [{section}]"
    return values[-1]


def seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * units[unit]
    return float(value)


def test_temporary_failures_restart_forever_and_mistakes_do_not():
    assert one("Service", "Restart") == "on-failure"
    assert one("Service", "RestartPreventExitStatus").split() == ["2"], "75 (EX_TEMPFAIL) must restart"
    assert seconds(one("Service", "RestartSec")) >= 5
    # A start limit would give up for good after a burst of temporary failures.
    assert one("Unit", "StartLimitIntervalSec") == "0"
    # RestartPreventExitStatus= never applies to ExecStartPre= (systemd issue 11868): a `coachd check` there
    # would be restarted forever on a config mistake; `coachd run` checks and exits 2 itself.
    assert "ExecStartPre" not in directives()["Service"]


def test_ordered_after_the_network_and_a_local_database():
    after = one("Unit", "After").split()
    assert {"network-online.target", "postgresql.service"} <= set(after)
    assert "network-online.target" in one("Unit", "Wants").split()
    assert "postgresql.service" not in directives()["Unit"].get("Wants", [""])[0], "only ordered, never pulled in"


def test_notify_watchdog_and_bounds():
    assert one("Service", "Type") == "notify"
    watchdog = seconds(one("Service", "WatchdogSec"))
    assert 60 <= watchdog <= 600
    assert one("Service", "MemoryMax").endswith(("M", "G"))
    assert int(one("Service", "TasksMax")) >= 32
    # The stop: a job's grace (5 s) and the mail sender's (45 s) fit before systemd kills what is left.
    from coachd.runtime.runner import STOP_GRACE_SECONDS
    from coachd.runtime.sender_process import STOP_GRACE_SECONDS as SENDER_GRACE

    assert STOP_GRACE_SECONDS + SENDER_GRACE < seconds(one("Service", "TimeoutStopSec"))
    assert "@system-service" in directives()["Service"]["SystemCallFilter"], "setitimer (the stop grace) allowed"
    assert "AF_UNIX" in one("Service", "RestrictAddressFamilies").split(), "$NOTIFY_SOCKET is AF_UNIX"


def test_systemd_analyze_verify_finds_nothing_wrong(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    coachd = Path(sys.executable).with_name("coachd")
    if not coachd.exists():
        pytest.skip(f"{coachd} is not installed")
    unit = tmp_path / "coachd.service"
    unit.write_text(UNIT.read_text().replace("/opt/coachd/.venv/bin/coachd", str(coachd)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
