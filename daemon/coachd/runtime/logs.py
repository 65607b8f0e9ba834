"""How coachd's processes log: one format for the daemon and its sender process."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str) -> None:
    """Log at `level` (debug, info, warning, ...; unknown names mean info) to stderr, which the
    journal collects under systemd."""
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
