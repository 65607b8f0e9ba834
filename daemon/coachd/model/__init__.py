"""Pure values: people, series, occurrences, intervals, actions, mail kinds, periods."""
