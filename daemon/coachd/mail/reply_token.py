"""Reply tokens: the tag in a request's Reply-To address that says, unforgeably, which request a reply answers.

A request (feedback, notes, topics, a check-in) goes out with `Reply-To: coaching+r<token>@domain`,
plus-addressing that Gmail, Microsoft 365, Fastmail, Postfix and most servers deliver to the plain
mailbox. The token is 26 base32 characters: a 10-character id derived from the request's outbox
key (so the same request always gets the same token, even when re-rendered after a crash) and a
16-character HMAC-SHA256 of that id under a secret only this installation knows. Without the
secret nobody can make a token that verifies, so a reply cannot be passed off as answering
somebody else's request by editing the address. The outbox stores each token; the id is only a
name, the store says which program, session, person and kind it stands for.

Lower case throughout: some servers lower-case local parts on the way in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Iterable
from email.utils import getaddresses
from pathlib import Path

SECRET_FILE = "reply-secret"
ID_LENGTH = 10  # 50 bits: names requests; collisions are harmless (the MAC and the store decide)
MAC_LENGTH = 16  # 80 bits of HMAC: guessing one is out of reach
TOKEN = re.compile(rf"\+r([a-z2-7]{{{ID_LENGTH + MAC_LENGTH}}})@", re.IGNORECASE)
# Where a reply's own copy of the address it was sent to can be found.
ADDRESS_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")


class SecretError(Exception):
    """The secret file cannot be read or created; names the file."""


def load_or_create_secret(state_dir: Path) -> bytes:
    """The installation's secret, created on first use (32 random bytes, mode 0600, never rewritten)."""
    path = Path(state_dir) / SECRET_FILE
    if not path.exists():
        _create_secret(path)
    try:
        text = path.read_text().strip()
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as error:
        raise SecretError(f"{path}: cannot read the reply secret: {error.strerror or error}") from error
    if mode & 0o077:
        raise SecretError(f"{path}: the reply secret is readable by others (mode {mode:04o}); "
                          f"run: chmod 600 {path}")
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise SecretError(f"{path}: not a coachd reply secret (64 hex digits expected); move it away "
                          "and a new one is created, which invalidates the reply addresses already sent")
    return bytes.fromhex(text)


def _create_secret(path: Path) -> None:
    """Write the secret whole in a file of our own, then link it into place: a process starting at
    the same moment sees no file or the finished one, never half of it, and only one secret wins."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass  # another process made it first: theirs is the secret
    except OSError as error:
        raise SecretError(f"{path}: cannot create the reply secret: {error.strerror or error}") from error
    finally:
        scratch.unlink(missing_ok=True)


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


def token_for(secret: bytes, program_id: str, request_key: str) -> str:
    """The token of one request: the same key and secret always give the same token."""
    ident = _b32(hashlib.sha256(f"{program_id}\0{request_key}".encode()).digest())[:ID_LENGTH]
    return ident + _mac(secret, program_id, ident)


def _mac(secret: bytes, program_id: str, ident: str) -> str:
    return _b32(hmac.new(secret, f"{program_id}\0{ident}".encode(), hashlib.sha256).digest())[:MAC_LENGTH]


def verify(secret: bytes, program_id: str, token: str) -> bool:
    """Whether `token` was made with this secret for this program (compared in constant time)."""
    token = token.lower()
    if len(token) != ID_LENGTH + MAC_LENGTH:
        return False
    ident, mac = token[:ID_LENGTH], token[ID_LENGTH:]
    return hmac.compare_digest(mac, _mac(secret, program_id, ident))


def reply_address(organizer_email: str, token: str) -> str:
    """`local+r<token>@domain` of the organizer's address."""
    local, _, domain = organizer_email.rpartition("@")
    return f"{local}+r{token}@{domain}"


def tokens_in(header_values: Iterable[str]) -> list[str]:
    """Every token in the addresses of these header values, lower case, first seen first."""
    found: list[str] = []
    for _, address in getaddresses([str(v) for v in header_values]):
        match = TOKEN.search(address)
        if match and match.group(1).lower() not in found:
            found.append(match.group(1).lower())
    return found
