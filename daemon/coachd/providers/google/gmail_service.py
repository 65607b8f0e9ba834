"""A Gmail v1 client for coachd's Gmail sender and inbox: built offline like every Google client
(client.py), on an httplib2 client that never re-sends a request whose answer was lost (no_resend.py)."""

from __future__ import annotations

import json

import google.auth.credentials
import google_auth_httplib2
from googleapiclient.discovery import Resource, build_from_document

from coachd.providers.google.client import DEFAULT_TIMEOUT_SECONDS, discovery_document
from coachd.providers.google.no_resend import NoResendHttp

GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"


def gmail_service(api_root: str, credentials: google.auth.credentials.Credentials,
                  timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Resource:
    """client.build_service("gmail", "v1", ...), but on NoResendHttp: a messages.send whose answer was
    lost must come back to the sender as a doubt, not go out a second time."""
    document = json.loads(discovery_document("gmail", "v1"))
    document["rootUrl"] = api_root if api_root.endswith("/") else api_root + "/"
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=NoResendHttp(timeout=timeout))
    return build_from_document(document, http=http)
