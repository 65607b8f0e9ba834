"""Pure planning: slots, timelines, series placement, repair, blackouts, calendar truth, RSVPs, coachee states, the planner."""
