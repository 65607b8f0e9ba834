"""The `coachd` command, one module per group of commands."""
