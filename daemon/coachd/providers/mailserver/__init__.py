"""Real mail servers: the smtp sender and the imap inbox."""
