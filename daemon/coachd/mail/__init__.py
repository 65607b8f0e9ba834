"""Email composition: Jinja templates per kind rendered into RFC 5322 messages."""

from __future__ import annotations

from coachd.mail.compose import Composer, CompositionError, Rendered, UnknownKind, builtin_templates_dir
from coachd.mail.headers import Envelope, Recipient, message_id, thread_root_id

__all__ = [
    "Composer",
    "CompositionError",
    "Envelope",
    "Recipient",
    "Rendered",
    "UnknownKind",
    "builtin_templates_dir",
    "message_id",
    "thread_root_id",
]
