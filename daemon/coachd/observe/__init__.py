"""World -> store -> observed state: calendar sync, busy times, inbox, coachee states."""
