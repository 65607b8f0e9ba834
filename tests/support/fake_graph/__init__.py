"""A faithful local fake of Microsoft Graph v1.0 and the Microsoft identity platform.

`FakeGraph` (server.py) is the HTTP core; the identity platform (identity.py) and each Graph service
register their routes on it; redirect.py points msal's https authority at it.
"""

from tests.support.fake_graph.server import FakeGraph, Faults, GraphError, Principal, Request, Response

__all__ = ["FakeGraph", "Faults", "GraphError", "Principal", "Request", "Response"]
