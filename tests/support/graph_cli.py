"""`coachd` as an admin runs it on a server, in a process of its own, with Microsoft's https hosts sent to
the fake Graph at $COACHD_TEST_GRAPH (tests only): `python -m tests.support.graph_cli auth microsoft ...`."""

from __future__ import annotations

import os

from coachd.cli.commands import main
from coachd.providers.microsoft.transport import use_sessions
from tests.support.fake_graph.redirect import HOSTS, redirecting_session

if __name__ == "__main__":
    base_url = os.environ["COACHD_TEST_GRAPH"]
    hosts = (*HOSTS, *filter(None, os.environ.get("COACHD_TEST_GRAPH_HOSTS", "").split(",")))
    use_sessions(lambda timeout: redirecting_session(base_url, hosts, timeout))
    main()
