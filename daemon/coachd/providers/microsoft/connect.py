"""What a Microsoft provider's factory calls: its section, as the config gave it, made into a Graph client.

A factory is called as factory(state_dir, section=..., credential_store=..., organizer_email=...)
(runtime/wiring.py hands the last two to any factory that names them); it checks the secret or
certificate now, connects to nobody, and gets a client whose first call gets the first token.
"""

from __future__ import annotations

from collections.abc import Sequence

from coachd.providers.credentials import CredentialStore
from coachd.providers.family import ProviderRefused
from coachd.providers.microsoft.auth import graph_credentials
from coachd.providers.microsoft.client import GraphClient
from coachd.providers.microsoft.family import MicrosoftSection
from coachd.providers.microsoft.transport import DEFAULT_TIMEOUT_SECONDS
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy


def graph_client(section: MicrosoftSection, role: str, *, credential_store: CredentialStore | None,
                 organizer_email: str | None, roles: Sequence[str] = (), timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 policy: RetryPolicy = DEFAULT_POLICY) -> GraphClient:
    """A Graph client for `role` in the section's mailbox (default: the organizer's). Raises
    ProviderRefused naming `organizer.<role>.<option>` for a setting that cannot work."""
    mailbox = section.mailbox_of(organizer_email)
    if mailbox is None:
        raise ProviderRefused(role, "mailbox", "name the mailbox coachd works in")
    credentials = graph_credentials(section, credential_store, organizer_email=organizer_email, role=role,
                                    roles=roles, timeout=timeout)
    return GraphClient(credentials, section.graph_url, mailbox, timeout=timeout, policy=policy)
