"""Provider roles (calendar, busy times, mail out, mail in), their registry and their families."""
