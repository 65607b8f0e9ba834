"""Wiring a program, the clock, jobs, the runner, the sender process and the simulator."""
