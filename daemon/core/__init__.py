"""Functional core: pure values and functions, no I/O and no clock reads."""
