"""Actions -> effects under their keys: the executor and the outbox."""
