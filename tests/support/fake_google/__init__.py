"""A faithful local fake of Google Calendar v3, Gmail v1, free/busy and Google's OAuth token endpoint.

`FakeGoogle` (server.py) is the HTTP core; each service module registers its routes on it.
"""

from tests.support.fake_google.server import ApiError, FakeGoogle, Faults, Request, Response, google_error

__all__ = ["ApiError", "FakeGoogle", "Faults", "Request", "Response", "google_error"]
