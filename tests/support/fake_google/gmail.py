"""Gmail v1 on the fake: messages (send, list, get, modify), labels, history, profile and threads under
`/gmail/v1/users/{userId}/...`, with the test hooks a mail system needs (deliver, expire history,
what was sent).

"me" (or the user's own address) is the user the bearer token stands for; a service account's token
stands for the user it impersonates. Mail sent to a user the fake holds a mailbox for (plus
addresses included) lands in that user's INBOX, byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import itertools
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import unquote

from tests.support.fake_google.gmail_mailbox import SYSTEM_LABELS, Label, Mailbox, Message, label_key, subject_key
from tests.support.fake_google.server import ApiError, FakeGoogle, Request, Response, page_of

_AUTH = "https://www.googleapis.com/auth/"
FULL = "https://mail.google.com/"
SEND_SCOPES = (FULL, _AUTH + "gmail.send", _AUTH + "gmail.compose", _AUTH + "gmail.modify")
READ_SCOPES = (FULL, _AUTH + "gmail.readonly", _AUTH + "gmail.modify")
MODIFY_SCOPES = (FULL, _AUTH + "gmail.modify")
LABEL_SCOPES = (FULL, _AUTH + "gmail.modify", _AUTH + "gmail.labels")
USERS = r"/gmail/v1/users/(?P<user>[^/]+)"
MAX_RAW = 36_700_160  # messages.send's documented maxSize


class FakeGmail:
    """Gmail v1 on a FakeGoogle. `search_delay`: how long a new message stays out of `q` searches
    (Gmail's index trails new mail; 0 by default, tests that need the lag set it).
    `history_lifetime`: how long history is kept (Gmail: about a week, sometimes hours; None: for
    ever, and `expire_history` expires it at once)."""

    def __init__(self, fake: FakeGoogle) -> None:
        self.fake = fake
        self.mailboxes: dict[str, Mailbox] = {}
        self.search_delay = timedelta(0)
        self.history_lifetime: timedelta | None = None
        self.sends: list[tuple[str, bytes]] = []  # (sender's address, raw): every message sent, in order
        self._ids = itertools.count(0x18F3A0B4C5D60000)
        self._labels = itertools.count(1)
        routes = [
            ("GET", "/profile", self._profile, READ_SCOPES + (_AUTH + "gmail.compose",)),
            ("POST", "/messages/send", self._send, SEND_SCOPES),
            ("GET", "/messages", self._list, READ_SCOPES),
            ("GET", r"/messages/(?P<id>[^/]+)", self._get, READ_SCOPES),
            ("POST", r"/messages/(?P<id>[^/]+)/modify", self._modify, MODIFY_SCOPES),
            ("GET", "/labels", self._labels_list, LABEL_SCOPES + (_AUTH + "gmail.readonly",)),
            ("POST", "/labels", self._labels_create, LABEL_SCOPES),
            ("GET", "/history", self._history, READ_SCOPES),
            ("GET", "/threads", self._threads_list, READ_SCOPES),
            ("GET", r"/threads/(?P<id>[^/]+)", self._thread_get, READ_SCOPES),
        ]
        for method, path, handler, scopes in routes:
            fake.route(method, USERS + path, handler, scopes=scopes)
        # The media-upload form of messages.send (the client library uses it when given a media body).
        fake.route("POST", r"/upload" + USERS + "/messages/send", self._send_upload, scopes=SEND_SCOPES)

    # --- test hooks (each under the server's lock) ----------------------------------------------------

    def mailbox(self, address: str) -> Mailbox:
        """The mailbox of `address`, made empty the first time it is asked for."""
        key = _base_address(address)
        with self.fake.lock:
            if key not in self.mailboxes:
                self.mailboxes[key] = Mailbox(key)
            return self.mailboxes[key]

    def deliver(self, address: str, raw: bytes, labels: Iterable[str] = ("INBOX", "UNREAD"),
                at: datetime | None = None) -> str:
        """A message arrives for `address` (plus addresses reach the same mailbox), stored byte for
        byte and threaded with what it answers; returns its Gmail id."""
        with self.fake.lock:
            box = self.mailbox(address)
            message = box.add(self._new_id(), raw, labels, at or self.fake.now(), None)
            joined = box.thread_of_reply(message)
            if joined is not None:
                box.move_to_thread(message, joined)
            return message.id

    def expire_history(self, address: str) -> None:
        """Every history id of `address` handed out so far answers 404 from now on."""
        with self.fake.lock:
            self.mailbox(address).expire_history()

    def sent_by(self, address: str) -> list[bytes]:
        """What `address` sent through messages.send, in order, byte for byte."""
        with self.fake.lock:
            return [raw for sender, raw in self.sends if sender == _base_address(address)]

    def held(self, address: str) -> list[bytes]:
        """Every message the mailbox holds, whatever its labels."""
        with self.fake.lock:
            return [message.raw for message in self.mailbox(address).messages.values()]

    def threads_of(self, address: str) -> dict[str, list[bytes]]:
        """thread id -> its messages' bytes, in the order they joined."""
        with self.fake.lock:
            box = self.mailbox(address)
            return {tid: [box.messages[i].raw for i in ids] for tid, ids in box.threads.items()}

    # --- handlers ----------------------------------------------------------------------------------------

    def _box(self, request: Request) -> Mailbox:
        assert request.principal is not None
        user = unquote(request.group("user"))
        subject = request.principal.subject
        if user != "me" and user.lower() != subject.lower():
            raise ApiError(403, "forbidden", f"Delegation denied for {subject}")
        return self.mailbox(subject)

    def _message(self, box: Mailbox, id: str) -> Message:
        if not id or any(c not in "0123456789abcdef" for c in id):
            raise ApiError(400, "invalidArgument", "Invalid id value")
        message = box.messages.get(id)
        if message is None:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        return message

    def _profile(self, request: Request) -> Response:
        box = self._box(request)
        return Response(body={"emailAddress": box.address, "messagesTotal": len(box.messages),
                              "threadsTotal": len(box.threads), "historyId": str(box.history_id)})

    def _send(self, request: Request) -> Response:
        body = request.json()
        try:
            raw = base64.urlsafe_b64decode(_padded(str(body.get("raw") or "")))
        except (binascii.Error, ValueError) as error:
            raise ApiError(400, "invalidArgument", "Invalid value for ByteString") from error
        return self._send_raw(request, raw, body.get("threadId"))

    def _send_upload(self, request: Request) -> Response:
        kind = request.headers.get("content-type", "")
        if request.arg("uploadType") == "multipart" or kind.startswith("multipart/"):
            parts = _multipart(kind, request.body)
            if len(parts) != 2:
                raise ApiError(400, "badContent", "Multipart upload needs metadata and media.")
            metadata = json.loads(parts[0] or b"{}")
            return self._send_raw(request, parts[1], metadata.get("threadId"))
        return self._send_raw(request, request.body, None)

    def _send_raw(self, request: Request, raw: bytes, thread_id: str | None) -> Response:
        box = self._box(request)
        if not raw:
            raise ApiError(400, "invalidArgument", "'raw' RFC822 payload message string or uploading message via "
                           "/upload/* URL required")
        if len(raw) > MAX_RAW:
            raise ApiError(413, "uploadTooLarge", "Request payload size exceeds the limit: 36700160 bytes.")
        probe = Message.parse("0", raw, (), self.fake.now(), 0)
        if not probe.recipients:
            raise ApiError(400, "invalidArgument", "Recipient address required")
        if any("@" not in address for address in probe.recipients):
            raise ApiError(400, "invalidArgument", "Invalid To header")
        joined = box.thread_for(probe, thread_id)  # 404 for a thread the mailbox does not hold
        labels = {"SENT"}
        if box.address in {_base_address(a) for a in probe.recipients}:
            labels |= {"INBOX", "UNREAD"}  # mail to oneself lands in one's own inbox too
        message = box.add(self._new_id(), raw, labels, self.fake.now(), joined)
        self.sends.append((box.address, raw))
        for address in dict.fromkeys(_base_address(a) for a in probe.recipients):
            if address in self.mailboxes and address != box.address:
                self.deliver(address, raw)
        return Response(body={"id": message.id, "threadId": message.thread_id, "labelIds": sorted(message.labels)})

    def _list(self, request: Request) -> Response:
        box = self._box(request)
        found = box.search(request.arg("q"), request.args("labelIds"), request.arg("includeSpamTrash") == "true",
                           self.fake.now(), self.search_delay)
        page, token = page_of(found, request.arg("pageToken"), _max_results(request, 100), self.fake.page_size,
                              shorten=True, rng=self.fake.random)
        body: dict[str, object] = {"resultSizeEstimate": len(found)}
        if page:
            body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if token:
            body["nextPageToken"] = token
        return Response(body=body)

    def _get(self, request: Request) -> Response:
        message = self._message(self._box(request), request.group("id"))
        format = request.arg("format", "full") or "full"
        if format not in ("raw", "full", "metadata", "minimal"):
            raise ApiError(400, "invalidArgument", f"Invalid format: {format}")
        return Response(body=message.resource(format, request.args("metadataHeaders")))

    def _modify(self, request: Request) -> Response:
        box = self._box(request)
        message = self._message(box, request.group("id"))
        body = request.json()
        add, remove = list(body.get("addLabelIds") or []), list(body.get("removeLabelIds") or [])
        for label in add + remove:
            if label not in box.labels:
                raise ApiError(400, "invalidArgument", f"Invalid label: {label}")
        box.relabel(message, add, remove, self.fake.now())
        return Response(body=message.resource("minimal"))

    def _labels_list(self, request: Request) -> Response:
        return Response(body={"labels": [label.resource() for label in self._box(request).labels.values()]})

    def _labels_create(self, request: Request) -> Response:
        box = self._box(request)
        name = str(request.json().get("name") or "").strip()
        if not name or name.upper() in SYSTEM_LABELS:
            raise ApiError(400, "invalidArgument", "Invalid label name")
        # Stricter: names conflict whatever their case, and "a/b" with "a-b" (search cannot tell them apart).
        if any(label_key(label.name) == label_key(name) for label in box.labels.values()):
            raise ApiError(409, "alreadyExists", "Label name exists or conflicts")
        label = Label(f"Label_{next(self._labels)}", name)
        box.labels[label.id] = label
        return Response(body=label.resource())

    def _history(self, request: Request) -> Response:
        box = self._box(request)
        start = request.arg("startHistoryId")
        if not start or not start.isdigit():
            raise ApiError(400, "invalidArgument", "Invalid startHistoryId")
        if self.history_lifetime is not None:
            box.forget_history_before(self.fake.now() - self.history_lifetime)
        if int(start) < box.history_floor:
            # Gmail keeps history for about a week, sometimes only hours: then a full sync is needed.
            raise ApiError(404, "notFound", "Requested entity was not found.")
        types = set(request.args("historyTypes"))
        label = request.arg("labelId")
        records = [r for r in box.history if r.id > int(start) and r.message is not None
                   and (not types or r.kind in types) and (label is None or label in r.labels_then)]
        page, token = page_of(records, request.arg("pageToken"), _max_results(request, 100), self.fake.page_size,
                              shorten=True, rng=self.fake.random)
        body: dict[str, object] = {"historyId": str(box.history_id)}
        if page:
            body["history"] = [record.resource() for record in page]
        if token:
            body["nextPageToken"] = token
        return Response(body=body)

    def _threads_list(self, request: Request) -> Response:
        box = self._box(request)
        found = box.search(request.arg("q"), request.args("labelIds"), request.arg("includeSpamTrash") == "true",
                           self.fake.now(), self.search_delay)
        threads = list(dict.fromkeys(m.thread_id for m in found))
        page, token = page_of(threads, request.arg("pageToken"), _max_results(request, 100), self.fake.page_size)
        body: dict[str, object] = {"resultSizeEstimate": len(threads)}
        if page:
            body["threads"] = [{"id": tid, "snippet": "", "historyId": str(box.history_id)} for tid in page]
        if token:
            body["nextPageToken"] = token
        return Response(body=body)

    def _thread_get(self, request: Request) -> Response:
        box = self._box(request)
        ids = box.threads.get(request.group("id"))
        if not ids:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        format = request.arg("format", "full") or "full"
        messages = [box.messages[i].resource(format, request.args("metadataHeaders")) for i in ids]
        return Response(body={"id": request.group("id"), "historyId": str(box.history_id), "messages": messages})

    def _new_id(self) -> str:
        return f"{next(self._ids):016x}"


def _base_address(address: str) -> str:
    """user+tag@domain -> user@domain, lower case: Gmail delivers plus addresses to the user's mailbox."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if local else address.strip().lower()


def _multipart(content_type: str, body: bytes) -> list[bytes]:
    """The bodies of a multipart/related upload, byte for byte (the media part is the message as sent)."""
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode(), policy=email.policy.compat32)
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str):
        raise ApiError(400, "badContent", "Multipart upload without a boundary.")
    delimiter = b"--" + boundary.encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        # The part's own headers end at the first blank line, LF or CRLF (the client writes LF).
        ends = [(i, len(sep)) for sep in (b"\n\n", b"\r\n\r\n") if (i := chunk.find(sep)) >= 0]
        start = min(ends)[0] + min(ends)[1] if ends else len(chunk)
        content = chunk[start:]
        parts.append(content[:-2] if content.endswith(b"\r\n") else content.removesuffix(b"\n"))
    return parts


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _max_results(request: Request, default: int) -> int:
    value = request.arg("maxResults")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 500:
        raise ApiError(400, "invalidArgument", "Invalid maxResults")
    return int(value)


__all__ = ["FULL", "MODIFY_SCOPES", "READ_SCOPES", "SEND_SCOPES", "FakeGmail", "subject_key"]
