"""A process that drains a state's outbox to SMTP, for tests/test_smtp_crash.py to SIGKILL.

python -m tests.support.smtp_drain_worker CONFIG STATE NOW_ISO
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.execute.outbox import drain
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program


def main() -> None:
    config, state, now_text = sys.argv[1:4]
    now = datetime.fromisoformat(now_text)
    program = open_program(load_config(Path(config)), Path(state), VirtualClock(now))
    try:
        drain(program, Executor(program), now)
    finally:
        program.close()


if __name__ == "__main__":
    main()
