"""`python -m daemon` is `coachd`."""

from daemon.cli import main

main()
