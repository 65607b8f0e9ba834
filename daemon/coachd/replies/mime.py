"""Walking a reply's MIME tree and decoding its parts without trusting sizes, depths or charsets."""

from __future__ import annotations

import binascii
import codecs
import email
import email.parser
import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from urllib.parse import unquote

# Bounds that keep one hostile message from costing more than a normal one by orders of magnitude.
MAX_TEXT = 200_000  # characters of body text anyone downstream processes
MAX_ENCODED = 400_000  # characters of a part's transfer-encoded payload we decode at all
MAX_DEPTH = 256  # real clients nest 3-5 levels; the walk is iterative, so this only bounds the work
MAX_PARTS = 300
# The stdlib parser recurses once per nested multipart and slows down quadratically before it hits
# the recursion limit (about 1,000 levels); no real message has this many multiparts.
MAX_BOUNDARIES = 256

# iso-8859-1 labels are read as windows-1252, as browsers do: Outlook's "smart quotes" (0x91-0x94)
# arrive labelled latin-1 far more often than real C1 control characters do.
_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
                    "us-ascii": "cp1252", "ascii": "cp1252", "windows-1252": "cp1252"}
_PARAMETER = re.compile(r';\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")  # line breaks, padding, and whatever else a sender put in


def parse(raw: bytes) -> EmailMessage:
    """A message from bytes, never raising: absurdly nested MIME is kept as headers and an opaque body."""
    if raw.lower().count(b"boundary=") <= MAX_BOUNDARIES:
        try:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            if isinstance(message, EmailMessage):
                return message
        except Exception:  # RecursionError above all; the stdlib parser is lenient about everything else
            pass
    message = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


@dataclass(frozen=True)
class Leaf:
    """A part that is not a multipart, with what its headers say, read once."""

    part: Message
    content_type: str  # lower-case "type/subtype"
    params: dict[str, str]  # Content-Type parameters by lower-case name: charset, format, method...
    attachment: bool
    filename: str
    encoding: str  # Content-Transfer-Encoding, lower-case

    def payload(self, limit: int = MAX_ENCODED) -> bytes:
        """The decoded bytes, from at most `limit` characters of the encoded payload."""
        return _decoded_payload(self.part, self.encoding, limit)

    def text(self) -> str:
        """The content as text with "\\n" line ends, capped at MAX_TEXT characters."""
        text = decode(self.payload(), self.params.get("charset"))[:MAX_TEXT]
        return text.replace("\r\n", "\n").replace("\r", "\n")


def walk(message: Message) -> Iterator[Leaf]:
    """Every leaf part in document order, iteratively and bounded; forwarded messages are not entered."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        if not part.is_multipart():
            yield _leaf(part)
        elif depth < MAX_DEPTH and not _headers(part).get("content-type", "").lower().lstrip().startswith("message/"):
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children) if isinstance(child, Message))


def _headers(part: Message) -> dict[str, str]:
    """The first value of each header, unparsed.

    Under policy.default every header access builds and parses a header object anew, which was most of
    the time spent reading a reply; raw_items() (the generator's accessor) hands out the stored values.
    """
    found: dict[str, str] = {}
    for name, value in part.raw_items():
        found.setdefault(str(name).lower(), str(value))
    return found


def _leaf(part: Message) -> Leaf:
    headers = _headers(part)
    kind, params = _split_parameters(headers.get("content-type", ""))
    disposition, disposition_params = _split_parameters(headers.get("content-disposition", ""))
    if "/" not in kind:  # RFC 2045: a missing or invalid type is text/plain
        kind = "text/plain"
    name = disposition_params.get("filename") or params.get("name") or ""
    encoding = headers.get("content-transfer-encoding", "").strip().lower()
    return Leaf(part, kind, params, disposition == "attachment", name, encoding)


def _split_parameters(value: str) -> tuple[str, dict[str, str]]:
    """("text/plain", {"charset": "utf-8"}) from 'text/plain; charset="utf-8"', leniently."""
    head = value.split(";", 1)[0].strip().lower()
    params: dict[str, str] = {}
    for key, quoted, bare in _PARAMETER.findall(value[:2000]):
        key = key.lower()
        text = quoted or bare.strip()
        if key.endswith("*"):  # RFC 2231: charset'language'percent-encoded, perhaps in numbered pieces
            text = unquote(text.split("'", 2)[-1], errors="replace")
        params.setdefault(key.split("*", 1)[0], text)
    return head, params


def _decoded_payload(part: Message, encoding: str, limit: int) -> bytes:
    if encoding not in ("base64", "quoted-printable"):
        # 7bit, 8bit, binary: the stdlib hands back the exact bytes only when asked to "decode" (without,
        # it decodes 8-bit text itself, with 'replace', under whatever charset the part claims).
        data = part.get_payload(decode=True)
        return data[:limit] if isinstance(data, bytes) else b""
    raw = part.get_payload()
    if not isinstance(raw, str):
        return b""
    # Transfer-encoded payloads are ASCII; only their first `limit` characters are ever decoded.
    data = raw[:limit].encode("ascii", "ignore")
    try:
        if encoding == "base64":
            # Padding is dropped and redone, so a payload cut at `limit` (or broken by its sender) still
            # decodes up to its last complete byte.
            clean = _BASE64_JUNK.sub(b"", data)
            clean = clean[: len(clean) - 1] if len(clean) % 4 == 1 else clean
            return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return b""


def decode(data: bytes, declared: str | None) -> str:
    """Text from bytes under a charset that may be missing, unknown or lying; never raises.

    Valid UTF-8 is almost never an accident, so it is tried first whenever the label is missing or one
    of the single-byte Western ones (which senders use as a default without looking); a declared
    multi-byte charset (Shift_JIS, GB2312...) is tried before it.
    """
    name = _text_codec(declared)
    order = ["utf-8"] if name in (None, "cp1252") else [name, "utf-8"]
    for codec in order:
        try:
            return data.decode(codec)
        except UnicodeDecodeError as error:
            if error.end == len(data) and error.start >= len(data) - 3:
                try:  # only the last character is cut short, as when a capped payload ends mid-character
                    return data[: error.start].decode(codec)
                except (UnicodeError, LookupError, ValueError):
                    continue
        except (UnicodeError, LookupError, ValueError):
            continue
    return data.decode("cp1252", errors="replace")


def _text_codec(declared: str | None) -> str | None:
    """The codec for a declared charset, or None for names that are unknown or not text encodings."""
    if not declared:
        return None
    name = declared.strip().strip('"').lower()[:40]
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # 'base64', 'zlib', 'rot13' ... are codecs too, but not text encodings: bytes.decode refuses them.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def unflow(text: str) -> str:
    """Undo RFC 3676 format=flowed soft line breaks, so a wrapped sentence is one line again."""
    out: list[str] = []
    pending = ""
    pending_depth = -1
    for line in text.split("\n"):
        stripped = line.rstrip("\r")
        depth = len(stripped) - len(stripped.lstrip(">"))
        body = stripped[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        if pending and depth != pending_depth:
            out.append(pending)
            pending = ""
        prefix = ">" * depth + (" " if depth else "")
        joined = (pending or prefix) + body
        if body.endswith(" ") and body.rstrip() != "--":
            pending, pending_depth = joined, depth
        else:
            out.append(joined)
            pending, pending_depth = "", -1
    if pending:
        out.append(pending)
    return "\n".join(out)
