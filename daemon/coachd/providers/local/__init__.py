"""The embedded providers: a folder calendar, ICS busy times, the file sender, a Maildir inbox."""
