"""A write a kill cut short leaves a temp file; the next daemon to hold the state removes it."""

from __future__ import annotations

import logging
from datetime import timedelta

from coachd.config import load_config
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from tests.support.ticks import EXAMPLE, program_start, tick


def test_temp_files_of_cut_writes_are_removed_at_start_and_the_calendar_is_intact(tmp_path, caplog):
    cfg = load_config(EXAMPLE)
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    events = sorted((tmp_path / "calendar").glob("*.ics"))
    assert events
    # What a SIGKILL between mkstemp and os.replace leaves: half an event beside the whole one.
    leftovers = [tmp_path / "calendar" / ".tmp-k1l2e3d4.part", tmp_path / "mail" / ".tmp-abcdef.part"]
    for path in leftovers:
        path.write_bytes(events[0].read_bytes()[:40])
    untouched = tmp_path / "calendar" / "notes.part"  # not ours: no temp prefix
    untouched.write_text("kept")

    helper = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)), locked=False)
    helper.close()
    assert all(path.exists() for path in leftovers), "a process without the lock must not remove them"

    caplog.set_level(logging.INFO, logger="coachd")
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        assert not any(path.exists() for path in leftovers)
        assert untouched.exists()
        assert len(program.calendar.sync(None).entries) == len(events)
    finally:
        program.close()
    assert caplog.text.count("a write a crash cut short") == 2
