"""A drainer that dies by SIGKILL at a chosen point, for tests/integration/test_sender_crash.py.

python -m tests.support.crash_drain_worker CONFIG STATE NOW_ISO claim
    claims every due email, then is killed before sending any (a sender killed between its claim
    and its first send)
python -m tests.support.crash_drain_worker CONFIG STATE NOW_ISO send N
    drains, and is killed right after the sender handed the Nth email on, before the outbox could
    record it: that email's outcome is unknown
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.execute.outbox import claim_many, drain
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from coachd.store import outbox_repo


class DyingSender:
    """Hands each email to the real sender; after the Nth, the process is killed."""

    def __init__(self, real, die_after: int) -> None:
        self.real, self.die_after, self.count = real, die_after, 0

    def send_raw(self, raw, key, envelope=None) -> None:
        self.real.send_raw(raw, key, envelope)
        self.count += 1
        if self.count == self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)

    def was_sent(self, message_id: str, key: str):
        return self.real.was_sent(message_id, key)

    def close(self) -> None:
        self.real.close()


def main() -> None:
    config, state, now_text, mode, *rest = sys.argv[1:]
    now = datetime.fromisoformat(now_text)
    program = open_program(load_config(Path(config)), Path(state), VirtualClock(now), locked=False)
    if mode == "claim":
        with program.store.session() as db:
            ids = [row[0] for row in outbox_repo.due(db, program.id, now, 1000)]
        claim_many(program, ids, now)
        os.kill(os.getpid(), signal.SIGKILL)
    program.sender = DyingSender(program.sender, int(rest[0]))
    drain(program, Executor(program), now)
    sys.exit("the drain ended before the chosen email: nothing to kill")


if __name__ == "__main__":
    main()
