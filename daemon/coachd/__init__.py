"""coachd: email and calendar automation for coaching programs."""

__version__ = "0.1.0"
