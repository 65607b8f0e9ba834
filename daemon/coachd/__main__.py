"""`python -m coachd` is `coachd`."""

from coachd.cli.commands import main

main()
