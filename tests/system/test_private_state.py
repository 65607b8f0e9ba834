"""The state directory holds every reply token, reply and note: private whatever the umask (issue 14)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.support.simulation import EXAMPLE


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_state_made_under_umask_022_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    # Outside systemd (no UMask=0077) a shell's usual umask would make everything world-readable.
    result = subprocess.run([sys.executable, "-m", "coachd", "simulate", str(EXAMPLE), "--until", "2027-01-06",
                             "--out", str(state)], cwd=tmp_path, capture_output=True, text=True,
                            preexec_fn=lambda: os.umask(0o022), timeout=300)
    assert result.returncode == 0, result.stderr
    assert _mode(state) == 0o700
    for name in ("coachd.sqlite", "coachd.lock", "actions.jsonl", "reply-secret"):
        assert _mode(state / name) == 0o600, name
    for folder in ("calendar", "mail", "inbox"):
        assert _mode(state / folder) == 0o700, folder
        files = [path for path in (state / folder).rglob("*") if path.is_file()]
        assert all(_mode(path) == 0o600 for path in files), folder
    assert list((state / "mail").glob("*.eml")), "the simulation wrote mail"


def test_a_state_directory_made_world_readable_before_is_closed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    result = subprocess.run([sys.executable, "-m", "coachd", "simulate", str(EXAMPLE), "--until", "2027-01-05",
                             "--out", str(state)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert _mode(state) == 0o700
