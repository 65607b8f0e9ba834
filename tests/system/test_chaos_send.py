"""The chaos of issue 14 point 5, bounded: `coachd run` sending over SMTP while its sender is
SIGKILLed twice and the daemon once (benchmarks/chaos_send.py runs the full version).

Before the fix every kill stalled the rest of the claimed batch for the 10-minute lease (this test
then ran into its timeout) and the duplicates went uncounted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("chaos_send", ROOT / "benchmarks" / "chaos_send.py")
assert SPEC is not None and SPEC.loader is not None
chaos_send = importlib.util.module_from_spec(SPEC)
sys.modules["chaos_send"] = chaos_send  # its dataclasses look their module up there
SPEC.loader.exec_module(chaos_send)

SENDER_KILLS, DAEMON_KILLS = 2, 1


def test_kills_while_sending_lose_nothing_stall_briefly_and_count_each_possible_duplicate(tmp_path):
    figures = chaos_send.chaos(150, SENDER_KILLS, DAEMON_KILLS, seed=14, folder=tmp_path, timeout=120.0)
    print(f"\nchaos: {figures}")
    assert figures["kills"] == SENDER_KILLS + DAEMON_KILLS
    assert figures["lost"] == 0 and figures["unsent_rows"] == 0
    # SMTP without a Sent folder cannot be asked: at most the one email in flight per kill comes
    # twice, and each is counted for `coachd status`.
    assert figures["duplicates"] <= figures["kills"]
    assert figures["resent_after_crash"] >= figures["duplicates"]
    # Not the 600 s lease: a new sender is started and hands back the claims within seconds.
    assert figures["longest_stall_s"] < 60, figures
    assert figures["exit_code"] == 0


def test_with_a_sent_folder_to_ask_kills_while_sending_make_no_duplicate(tmp_path, dovecot):
    """The server files what it accepts into an IMAP Sent folder (as Gmail does) and coachd asks it
    after each crash: the email in flight is found there rather than sent again."""
    figures = chaos_send.chaos(150, SENDER_KILLS, DAEMON_KILLS, seed=14, folder=tmp_path, timeout=120.0,
                               dovecot=dovecot)
    print(f"\nchaos with the Sent folder lookup: {figures}")
    assert figures["kills"] == SENDER_KILLS + DAEMON_KILLS
    assert figures["lost"] == 0 and figures["unsent_rows"] == 0
    assert figures["duplicates"] == 0 and figures["resent_after_crash"] == 0
    assert figures["longest_stall_s"] < 60, figures
