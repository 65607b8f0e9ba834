"""What is kept of a large inbound message: its headers and the parts a reply is read from, never its attachments.

Every reply is stored with its raw bytes (admins assign quarantined mail from them, and the store is the
record of what people wrote). A reply with a 30 MB slide deck attached would put 30 MB in the database
for a few lines of text, so a message over the cap is stored as its own headers plus its inline text,
HTML and calendar parts, decoded exactly as the reader decodes them, and a header saying what was dropped.
Reading the kept message gives the same answer as reading the whole one.
"""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage

from coachd.replies import mime as reply_mime

# A long reply with its quoted thread in text and HTML is about 100 KB; this leaves room for inline
# images of a signature while keeping a mailbox of hostile messages from filling the database.
MAX_KEPT_BYTES = 1024 * 1024
# Real headers are a few kilobytes; Received chains of a hundred hops stay far below this.
MAX_HEADER_BYTES = 64 * 1024
NOTE_HEADER = "X-Coachd-Trimmed"

_BODY_TYPES = ("text/plain", "text/html")
# The parameters the reader looks at, carried over to the kept part.
_KEPT_PARAMS = ("format", "delsp", "method")
_MIME_HEADER = re.compile(rb"^(content-[a-z0-9-]+|mime-version)\s*:", re.IGNORECASE)
_SPLIT = re.compile(rb"\r?\n\r?\n")


def kept_message(raw: bytes, limit: int = MAX_KEPT_BYTES) -> bytes:
    """`raw` itself when it is at most `limit` bytes, else its headers, its first inline text and HTML
    parts and its calendar parts, with a NOTE_HEADER naming what was dropped."""
    if len(raw) <= limit:
        return raw
    message = reply_mime.parse(raw)
    kept: list[EmailMessage] = []
    dropped: list[str] = []
    seen_types: set[str] = set()
    for leaf in reply_mime.walk(message):
        if _is_calendar(leaf) or (not leaf.attachment and leaf.content_type in _BODY_TYPES
                                  and leaf.content_type not in seen_types):
            seen_types.add(leaf.content_type)
            kept.append(_part(leaf))
        else:
            dropped.append(_describe(leaf))
    head = _headers_without_mime(raw)
    note = (f"{NOTE_HEADER}: stored {len(kept)} text part{'s' if len(kept) != 1 else ''} of a "
            f"{_size(len(raw))} message; dropped {len(dropped)} other part{'s' if len(dropped) != 1 else ''}"
            + (f" ({', '.join(dropped[:10])}{', ...' if len(dropped) > 10 else ''})" if dropped else "")).encode()
    return head + _fold(note) + b"\r\n" + _body(kept).as_bytes()


def _is_calendar(leaf: reply_mime.Leaf) -> bool:
    # As the iTIP reader finds them: Google sends the answer inline and again as invite.ics.
    return leaf.content_type in ("text/calendar", "application/ics") or leaf.filename.lower().endswith(".ics")


def _part(leaf: reply_mime.Leaf) -> EmailMessage:
    part = EmailMessage(policy=email.policy.SMTP)
    subtype = "calendar" if _is_calendar(leaf) else leaf.content_type.split("/", 1)[1]
    params = {name: leaf.params[name] for name in _KEPT_PARAMS if leaf.params.get(name)}
    part.set_content(leaf.text(), subtype=subtype, charset="utf-8", cte="base64", params=params)
    return part


def _body(parts: list[EmailMessage]) -> EmailMessage:
    if not parts:  # nothing a reply is read from: an empty text, which quarantines it as empty
        parts = [EmailMessage(policy=email.policy.SMTP)]
        parts[0].set_content("", charset="utf-8")
    if len(parts) == 1:
        return parts[0]
    body = EmailMessage(policy=email.policy.SMTP)
    body.make_mixed()
    for part in parts:
        body.attach(part)
    return body


def _headers_without_mime(raw: bytes) -> bytes:
    """The message's own header lines (folded ones kept whole), less its MIME headers: the kept body has its own."""
    block = _SPLIT.split(raw[:MAX_HEADER_BYTES], 1)[0]
    lines: list[bytes] = []
    skipping = False
    for line in block.splitlines():
        if line[:1] in (b" ", b"\t"):
            if not skipping and lines:
                lines.append(line)
            continue
        skipping = bool(_MIME_HEADER.match(line)) or line.lower().startswith(NOTE_HEADER.lower().encode())
        if not skipping and b":" in line:
            lines.append(line)
    return b"".join(line + b"\r\n" for line in lines)


def _fold(header: bytes) -> bytes:
    """A long header folded at spaces, so that no line passes the 998 characters RFC 5322 allows."""
    words, lines, current = header.split(b" "), [], b""
    for word in words:
        if current and len(current) + 1 + len(word) > 76:
            lines.append(current)
            current = b" " + word[:900]
        else:
            current = current + b" " + word[:900] if current else word[:900]
    lines.append(current)
    return b"\r\n".join(lines)


def _describe(leaf: reply_mime.Leaf) -> str:
    name = leaf.filename.replace("\r", " ").replace("\n", " ")[:80]
    return f"{leaf.content_type} {name}".strip() if name else leaf.content_type


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MB" if count >= 1024 * 1024 else f"{count / 1024:.0f} KB"
