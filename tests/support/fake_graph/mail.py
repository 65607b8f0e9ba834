"""Outlook mail on the fake Graph: sendMail with MIME, Sent Items, a folder's message delta, raw MIME
($value), categories, moves and mail folders under /v1.0/users/{id}/..., with the test hooks a mail
system needs (deliver raw MIME into a folder, expire delta state, what was sent to whom).

Every mailbox holds folders by id (the well-known names inbox, sentitems, deleteditems and
msgfolderroot resolve to them) and messages by id, each with the bytes it arrived or was sent with.
Every change to a message (arrived, categorised, moved, deleted) is one entry of the mailbox's change
log; a delta link is a position in that log, so a delta answers what changed since, per folder.
Mail sent to an address the fake holds a mailbox for lands in that mailbox's inbox, byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses, make_msgid
from typing import Any
from urllib.parse import quote, urlencode

from tests.support.fake_graph.server import API, FakeGraph, GraphError, Request, Response

USERS = API + r"/users/(?P<mailbox>[^/]+)"
READ = ("Mail.Read", "Mail.ReadWrite")
WRITE = ("Mail.ReadWrite",)
SEND = ("Mail.Send",)
# sendMail's request limit (Graph's ~4 MB per request; beyond it, upload sessions for attachments).
MAX_REQUEST_BYTES = 4 * 1024 * 1024
WELL_KNOWN = ("msgfolderroot", "inbox", "sentitems", "drafts", "deleteditems", "archive")
_FILTER_MESSAGE_ID = re.compile(r"\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)
_FILTER_RECEIVED = re.compile(r"\s*receivedDateTime\s+(ge|gt)\s+(\S+)\s*", re.IGNORECASE)
_FILTER_NAME = re.compile(r"\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)


@dataclass
class Folder:
    id: str
    name: str
    well_known: str | None = None


@dataclass
class Message:
    id: str
    folder: str
    raw: bytes
    internet_message_id: str
    received: datetime
    subject: str
    categories: list[str] = field(default_factory=list)
    is_read: bool = False

    def resource(self, folders: dict[str, Folder]) -> dict[str, Any]:
        return {"id": self.id, "internetMessageId": self.internet_message_id,
                "receivedDateTime": _stamp(self.received), "subject": self.subject,
                "parentFolderId": self.folder, "categories": list(self.categories), "isRead": self.is_read}


@dataclass
class Mailbox:
    address: str
    folders: dict[str, Folder] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    # (position, message id, folder id): one entry per change; a delta link is a position in it.
    changes: list[tuple[int, str, str]] = field(default_factory=list)
    generation: int = 0  # delta links of an older generation answer 410 SyncStateNotFound

    def folder(self, name_or_id: str) -> Folder:
        key = name_or_id.lower()
        for folder in self.folders.values():
            if folder.id == name_or_id or folder.well_known == key:
                return folder
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


class FakeOutlookMail:
    """Outlook mail on a FakeGraph. Mailboxes are the fake's (FakeIdentity.add_user adds them)."""

    def __init__(self, fake: FakeGraph) -> None:
        self.fake = fake
        self.boxes: dict[str, Mailbox] = {}
        self.sends: list[tuple[str, bytes]] = []  # (sender mailbox, raw MIME): every sendMail carried out
        self.received_by: Counter[str] = Counter()  # recipient address -> messages sent to it
        self._ids = itertools.count(1)
        self._position = itertools.count(1)
        routes = [
            ("POST", r"/sendMail", self._send_mail, SEND),
            ("GET", r"/mailFolders", self._folders, READ),
            ("POST", r"/mailFolders", self._create_folder, WRITE),
            ("GET", r"/mailFolders/(?P<folder>[^/]+)/messages", self._list, READ),
            ("GET", r"/mailFolders/(?P<folder>[^/]+)/messages/delta", self._delta, READ),
            ("GET", r"/messages/(?P<id>[^/]+)", self._get, READ),
            ("GET", r"/messages/(?P<id>[^/]+)/\$value", self._value, READ),
            ("PATCH", r"/messages/(?P<id>[^/]+)", self._patch, WRITE),
            ("POST", r"/messages/(?P<id>[^/]+)/move", self._move, WRITE),
        ]
        for method, path, handler, permissions in routes:
            fake.route(method, USERS + path, handler, permissions=permissions)

    # --- test hooks (each under the server's lock) ----------------------------------------------------

    def mailbox(self, address: str) -> Mailbox:
        key = address.lower()
        with self.fake.lock:
            if key not in self.boxes:
                box = Mailbox(key)
                for name in WELL_KNOWN:
                    folder = Folder(self._new_id("AQMkF"), name.capitalize(), name)
                    box.folders[folder.id] = folder
                self.boxes[key] = box
            return self.boxes[key]

    def deliver(self, address: str, raw: bytes, folder: str = "inbox", at: datetime | None = None) -> str:
        """A message arrives for `address` (plus addresses reach the same mailbox) in `folder` (a
        well-known name or an id), byte for byte; returns its id."""
        with self.fake.lock:
            box = self.mailbox(_base_address(address))
            return self._add(box, box.folder(folder).id, raw, at or self.fake.now()).id

    def add_folder(self, address: str, name: str) -> str:
        with self.fake.lock:
            folder = Folder(self._new_id("AQMkF"), name)
            self.mailbox(address).folders[folder.id] = folder
            return folder.id

    def expire_delta(self, address: str) -> None:
        """Every delta link of `address` handed out so far answers 410 SyncStateNotFound from now on."""
        with self.fake.lock:
            self.mailbox(address).generation += 1

    def sent_by(self, address: str) -> list[bytes]:
        """What `address` sent through sendMail, in order, byte for byte."""
        with self.fake.lock:
            return [raw for sender, raw in self.sends if sender == address.lower()]

    def held(self, address: str, folder: str | None = None) -> list[bytes]:
        """Every message the mailbox holds (in `folder` only, when given), whatever its folder or category."""
        with self.fake.lock:
            box = self.mailbox(address)
            wanted = box.folder(folder).id if folder else None
            return [m.raw for m in box.messages.values() if wanted is None or m.folder == wanted]

    def in_folder(self, address: str, folder: str) -> list[Message]:
        with self.fake.lock:
            box = self.mailbox(address)
            wanted = box.folder(folder).id
            return [m for m in box.messages.values() if m.folder == wanted]

    # --- sending ------------------------------------------------------------------------------------

    def _send_mail(self, request: Request) -> Response:
        if len(request.body) > MAX_REQUEST_BYTES:
            # Graph answers a request over its limit before reading it: nothing is sent.
            raise GraphError(413, "RequestEntityTooLarge", f"The request is larger than the limit of "
                             f"{MAX_REQUEST_BYTES} bytes ({len(request.body)} bytes).")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "text/plain":
            # This fake speaks sendMail's MIME form only (the JSON message form is not coachd's).
            raise GraphError(400, "ErrorInvalidRequest", "Stricter: the fake takes sendMail as base64 MIME "
                             "with Content-Type text/plain only.")
        try:
            raw = base64.b64decode(request.body.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise GraphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME "
                             "content.") from None
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        recipients = [a.lower() for _, a in getaddresses([str(v) for n in ("To", "Cc", "Bcc")
                                                          for v in parsed.get_all(n) or []]) if a]
        if not recipients:
            raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid., A message "
                             "can't be sent because it contains no recipients.")
        box = self.mailbox(str(request.mailbox))
        # Exchange keeps the MIME's Message-ID as the internetMessageId (and makes one when there is none).
        message_id = str(parsed.get("Message-ID") or "").strip() or make_msgid(domain="fake.outlook.example")
        self.sends.append((box.address, raw))
        now = self.fake.now()
        self._add(box, box.folder("sentitems").id, raw, now, message_id)
        for address in recipients:
            self.received_by[address] += 1
            target = _base_address(address)  # plus addresses reach the same mailbox
            if target in self.fake.mailboxes:
                other = self.mailbox(target)
                self._add(other, other.folder("inbox").id, raw, now, message_id)
        return Response(202)  # accepted for delivery; not delivered yet

    # --- reading --------------------------------------------------------------------------------------

    def _box(self, request: Request) -> Mailbox:
        mailbox = str(request.mailbox)
        if mailbox == "me" and request.principal is not None and request.principal.user:
            mailbox = request.principal.user
        return self.mailbox(mailbox)

    def _message(self, box: Mailbox, id: str) -> Message:
        message = box.messages.get(id)
        if message is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return message

    def _folders(self, request: Request) -> Response:
        box = self._box(request)
        folders = [f for f in box.folders.values() if f.well_known != "msgfolderroot"]
        wanted = request.arg("$filter")
        if wanted:
            match = _FILTER_NAME.fullmatch(wanted)
            if not match:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "Stricter: the fake filters folders on "
                                 "displayName eq only.")
            name = match.group(1).replace("''", "'").lower()
            folders = [f for f in folders if f.name.lower() == name]
        return self.fake.page(request, [{"id": f.id, "displayName": f.name} for f in folders])

    def _create_folder(self, request: Request) -> Response:
        box = self._box(request)
        name = str(request.json().get("displayName") or "").strip()
        if not name:
            raise GraphError(400, "ErrorInvalidRequest", "displayName is required.")
        if any(f.name.lower() == name.lower() for f in box.folders.values()):
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        folder = Folder(self._new_id("AQMkF"), name)
        box.folders[folder.id] = folder
        return Response(201, {"id": folder.id, "displayName": folder.name})

    def _list(self, request: Request) -> Response:
        box = self._box(request)
        folder = box.folder(request.group("folder"))
        found = [m for m in box.messages.values() if m.folder == folder.id]
        wanted = request.arg("$filter")
        if wanted:
            match = _FILTER_MESSAGE_ID.fullmatch(wanted)
            if not match:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "Stricter: the fake filters messages on "
                                 "internetMessageId eq only.")
            message_id = match.group(1).replace("''", "'")
            found = [m for m in found if m.internet_message_id == message_id]
        return self.fake.page(request, [m.resource(box.folders) for m in found])

    def _get(self, request: Request) -> Response:
        box = self._box(request)
        return Response(200, self._message(box, request.group("id")).resource(box.folders))

    def _value(self, request: Request) -> Response:
        message = self._message(self._box(request), request.group("id"))
        return Response(200, message.raw, content_type="text/plain")

    def _patch(self, request: Request) -> Response:
        box = self._box(request)
        message = self._message(box, request.group("id"))
        changes = request.json()
        unknown = set(changes) - {"categories", "isRead"}
        if unknown:
            raise GraphError(400, "ErrorInvalidRequest", f"Stricter: the fake patches categories and isRead only, "
                             f"not {sorted(unknown)}.")
        if "categories" in changes:
            message.categories = [str(c) for c in changes["categories"]]
        if "isRead" in changes:
            message.is_read = bool(changes["isRead"])
        self._changed(box, message.id, message.folder)
        return Response(200, message.resource(box.folders))

    def _move(self, request: Request) -> Response:
        box = self._box(request)
        message = self._message(box, request.group("id"))
        destination = box.folder(str(request.json().get("destinationId") or ""))
        # Exchange gives a moved message a new id (unless immutable ids are asked for): the old one is gone.
        del box.messages[message.id]
        self._changed(box, message.id, message.folder)
        moved = Message(self._new_id("AAMkM"), destination.id, message.raw, message.internet_message_id,
                        message.received, message.subject, list(message.categories), message.is_read)
        box.messages[moved.id] = moved
        self._changed(box, moved.id, moved.folder)
        return Response(201, moved.resource(box.folders))

    # --- delta ----------------------------------------------------------------------------------------

    def _delta(self, request: Request) -> Response:
        """A folder's message delta. The first request (no token) is a full listing of the folder, with
        an optional `$filter=receivedDateTime ge|gt <time>` (the only filter message delta takes);
        every page but the last has @odata.nextLink, the last @odata.deltaLink; following a delta
        link answers what changed since: messages arrived or changed in the folder, and `@removed`
        for those deleted or moved out of it."""
        box = self._box(request)
        folder = box.folder(request.group("folder"))
        skip, delta = request.arg("$skiptoken"), request.arg("$deltatoken")
        if skip:
            state = _read_token(skip)
        elif delta:
            state = {**_read_token(delta), "offset": 0, "upto": self._head(box)}
        else:
            state = {"since": None, "offset": 0, "upto": self._head(box), "gen": box.generation,
                     "after": self._received_filter(request.arg("$filter"))}
        if state.get("gen") != box.generation:
            raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
        items = self._delta_items(box, folder, state)
        size = self.fake.page_size
        asked = request.prefers().get("odata.maxpagesize")
        headers: dict[str, str] = {}
        if asked is not None and asked.isdigit() and int(asked) > 0:
            size = min(size, int(asked))
            headers["Preference-Applied"] = f"odata.maxpagesize={int(asked)}"
        if self.fake.short_pages and size > 1:
            size = self.fake.random.randint(1, size)
        offset = int(state["offset"])
        chunk = items[offset:offset + size]
        path = quote(f"{request.path}", safe="/$@.")
        body: dict[str, Any] = {"@odata.context": f"{self.fake.api_url}/$metadata#Collection(message)",
                                "value": chunk}
        if offset + len(chunk) < len(items):
            following = {**state, "offset": offset + len(chunk)}
            body["@odata.nextLink"] = f"{self.fake.base_url}{path}?{urlencode({'$skiptoken': _token(following)})}"
        else:
            done = {"since": state["upto"], "gen": state["gen"], "after": state.get("after")}
            body["@odata.deltaLink"] = f"{self.fake.base_url}{path}?{urlencode({'$deltatoken': _token(done)})}"
        return Response(200, body, headers)

    def _delta_items(self, box: Mailbox, folder: Folder, state: dict[str, Any]) -> list[dict[str, Any]]:
        upto, since = int(state["upto"]), state.get("since")
        op, after = (state["after"][0], datetime.fromisoformat(state["after"][1])) if state.get("after") \
            else ("ge", None)

        def wanted(m: Message) -> bool:
            return after is None or (m.received > after if op == "gt" else m.received >= after)

        if since is None:
            # A full listing: what the folder holds now, as of the snapshot, oldest first.
            present = [m for m in box.messages.values() if m.folder == folder.id
                       and self._first_position(box, m.id) <= upto and wanted(m)]
            return [m.resource(box.folders) for m in sorted(present, key=lambda m: m.received)]
        touched = list(dict.fromkeys(mid for position, mid, fid in box.changes
                                     if int(since) < position <= upto and fid == folder.id))
        items = []
        for mid in touched:
            message = box.messages.get(mid)
            if message is not None and message.folder == folder.id:
                items.append(message.resource(box.folders))
            else:
                items.append({"id": mid, "@removed": {"reason": "deleted"}})
        return items

    def _received_filter(self, value: str | None) -> list[str] | None:
        if not value:
            return None
        match = _FILTER_RECEIVED.fullmatch(value)
        if not match:
            raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The filter on a message delta query supports "
                             "receivedDateTime ge|gt only.")
        try:
            return [match.group(1).lower(), datetime.fromisoformat(match.group(2)).isoformat()]
        except ValueError:
            raise GraphError(400, "BadRequest", f"Invalid date {match.group(2)!r}.") from None

    # --- the store ------------------------------------------------------------------------------------

    def _add(self, box: Mailbox, folder: str, raw: bytes, at: datetime, message_id: str | None = None) -> Message:
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        message_id = message_id or str(parsed.get("Message-ID") or "").strip() or \
            make_msgid(domain="fake.outlook.example")
        message = Message(self._new_id("AAMkM"), folder, raw, message_id, at.astimezone(UTC),
                          " ".join(str(parsed.get("Subject") or "").split()))
        box.messages[message.id] = message
        self._changed(box, message.id, folder)
        return message

    def _changed(self, box: Mailbox, message_id: str, folder: str) -> None:
        box.changes.append((next(self._position), message_id, folder))

    def _head(self, box: Mailbox) -> int:
        return box.changes[-1][0] if box.changes else 0

    def _first_position(self, box: Mailbox, message_id: str) -> int:
        return next(position for position, mid, _ in box.changes if mid == message_id)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}" + "AAA="


def _base_address(address: str) -> str:
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+')[0]}@{domain}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode()


def _read_token(text: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(text.encode()))
        if isinstance(value, dict):
            return value
    except (ValueError, binascii.Error):
        pass
    raise GraphError(400, "BadRequest", "The delta or skip token is invalid.")


__all__ = ["MAX_REQUEST_BYTES", "FakeOutlookMail", "Mailbox", "Message"]
