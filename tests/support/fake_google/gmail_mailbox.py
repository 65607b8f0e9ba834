"""One Gmail mailbox as the fake keeps it: messages with labels, threads, labels, history, and the part of
Gmail's search language (`q`) coachd uses.

The HTTP side is gmail.py; this module holds no lock of its own (the server's lock is held around
every handler and every test hook).
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from zoneinfo import ZoneInfo

from tests.support.fake_google.server import ApiError

# Labels every mailbox has; their ids are their names.
SYSTEM_LABELS = ("INBOX", "SENT", "UNREAD", "STARRED", "IMPORTANT", "TRASH", "SPAM", "DRAFT",
                 "CATEGORY_PERSONAL", "CATEGORY_UPDATES")
HIDDEN_UNLESS_ASKED = frozenset({"TRASH", "SPAM"})
# Gmail reads dates in `after:`/`before:` as midnight Pacific time (epoch seconds are exact).
SEARCH_ZONE = ZoneInfo("America/Los_Angeles")
_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv|wg)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_IDS = re.compile(r"<[^<>\s]+>")


def subject_key(subject: str) -> str:
    """A subject as Gmail compares it for threading: without Re:/Fwd: prefixes, spaces collapsed, any case."""
    return " ".join(_PREFIX.sub("", subject).split()).casefold()


def label_key(name: str) -> str:
    """A label name as search writes it: `label:coachd-processed` and `label:coachd/processed` are one label."""
    return re.sub(r"[\s/]+", "-", name.strip()).casefold()


@dataclass
class Message:
    id: str
    thread_id: str
    raw: bytes
    labels: set[str]
    internal_date: datetime
    history_id: int
    message_id: str | None  # the RFC 5322 Message-ID, as written (angle brackets included)
    refers_to: tuple[str, ...]  # In-Reply-To and References ids
    subject: str
    recipients: tuple[str, ...]

    @classmethod
    def parse(cls, id: str, raw: bytes, labels: Iterable[str], when: datetime, history_id: int) -> Message:
        end = raw.find(b"\r\n\r\n")
        end = raw.find(b"\n\n") if end < 0 else end
        headers = BytesHeaderParser().parsebytes(raw if end < 0 else raw[:end + 2])

        def header(name: str) -> str:
            try:
                return " ".join(str(headers.get(name, "")).split())
            except (ValueError, TypeError, IndexError, AttributeError):  # a malformed header: nothing to use
                return ""

        message_ids = _IDS.findall(header("Message-ID"))
        refers = _IDS.findall(header("In-Reply-To")) + _IDS.findall(header("References"))
        fields = [header(name) for name in ("To", "Cc", "Bcc")]
        recipients = tuple(address.lower() for _, address in getaddresses([f for f in fields if f]) if address)
        return cls(id, id, raw, set(labels), when, history_id, message_ids[0] if message_ids else None,
                   tuple(dict.fromkeys(refers)), header("Subject"), recipients)

    def resource(self, format: str = "full", metadata_headers: Iterable[str] = ()) -> dict[str, object]:
        """The message as messages.get answers it in `format`."""
        body: dict[str, object] = {"id": self.id, "threadId": self.thread_id, "labelIds": sorted(self.labels),
                                   "historyId": str(self.history_id),
                                   "internalDate": str(int(self.internal_date.timestamp() * 1000)),
                                   "sizeEstimate": len(self.raw), "snippet": ""}
        if format == "raw":
            body["raw"] = base64.urlsafe_b64encode(self.raw).decode()
        elif format in ("metadata", "full"):
            wanted = {h.lower() for h in metadata_headers}
            end = self.raw.find(b"\r\n\r\n")
            parsed = BytesHeaderParser().parsebytes(self.raw if end < 0 else self.raw[:end + 2])
            headers = [{"name": k, "value": str(v)} for k, v in parsed.items()
                       if not wanted or k.lower() in wanted]
            body["payload"] = {"mimeType": parsed.get_content_type(), "headers": headers}
        return body


@dataclass
class Label:
    id: str
    name: str
    type: str = "user"

    def resource(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "type": self.type,
                "messageListVisibility": "show", "labelListVisibility": "labelShow"}


@dataclass
class HistoryRecord:
    id: int
    kind: str  # messageAdded | labelAdded | labelRemoved
    message: Message | None
    at: datetime
    labels: tuple[str, ...] = ()
    labels_then: frozenset[str] = frozenset()  # the message's labels when the record was made

    def resource(self) -> dict[str, object]:
        assert self.message is not None
        brief = {"id": self.message.id, "threadId": self.message.thread_id}
        body: dict[str, object] = {"id": str(self.id), "messages": [brief]}
        entry = {"message": {**brief, "labelIds": sorted(self.labels_then)}}
        if self.kind == "messageAdded":
            body["messagesAdded"] = [entry]
        else:
            body["labelsAdded" if self.kind == "labelAdded" else "labelsRemoved"] = [
                {**entry, "labelIds": list(self.labels)}]
        return body


@dataclass
class Mailbox:
    """One user's Gmail: `history_floor` is the oldest startHistoryId still answered (older: 404)."""

    address: str
    messages: dict[str, Message] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    history: list[HistoryRecord] = field(default_factory=list)
    history_id: int = 1000
    history_floor: int = 0
    threads: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in SYSTEM_LABELS:
            self.labels[name] = Label(name, name, "system")

    # --- changes ---------------------------------------------------------------------------------

    def next_history(self) -> int:
        self.history_id += 1 + len(self.history) % 3  # ids grow, not always by one
        return self.history_id

    def add(self, id: str, raw: bytes, labels: Iterable[str], when: datetime, thread_id: str | None) -> Message:
        message = Message.parse(id, raw, labels, when, self.next_history())
        if thread_id is not None:
            message.thread_id = thread_id
        self.messages[id] = message
        self.threads.setdefault(message.thread_id, []).append(id)
        self.history.append(HistoryRecord(message.history_id, "messageAdded", message, when,
                                          labels_then=frozenset(message.labels)))
        return message

    def relabel(self, message: Message, add: Iterable[str], remove: Iterable[str], when: datetime) -> None:
        for kind, names in (("labelAdded", [n for n in add if n not in message.labels]),
                            ("labelRemoved", [n for n in remove if n in message.labels])):
            if not names:
                continue
            if kind == "labelAdded":
                message.labels |= set(names)
            else:
                message.labels -= set(names)
            message.history_id = self.next_history()
            self.history.append(HistoryRecord(message.history_id, kind, message, when, tuple(names),
                                              frozenset(message.labels)))

    def expire_history(self) -> None:
        """Every history id handed out so far stops being answered; the mailbox moves on to a new one."""
        self.history_floor = self.next_history()
        self.history.clear()

    def forget_history_before(self, moment: datetime) -> None:
        """Records older than `moment` are gone, and with them every start id up to the newest of them."""
        gone = [record for record in self.history if record.at < moment]
        if gone:
            self.history_floor = max(self.history_floor, gone[-1].id + 1)
            self.history = self.history[len(gone):]

    # --- threads ----------------------------------------------------------------------------------

    def thread_for(self, message: Message, requested: str | None) -> str | None:
        """The thread a new message joins: Gmail's rule for mail sent with a threadId (docs: "the
        References and In-Reply-To headers must be set ... the Subject headers must match").

        Stricter: both must hold, References/In-Reply-To naming a message of the thread or an id a
        message of the thread refers to (a common root); otherwise the message starts a new thread,
        silently, as Gmail does."""
        if requested is None:
            return None
        ids = self.threads.get(requested)
        if not ids:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        members = [self.messages[i] for i in ids if i in self.messages]
        known = {m.message_id for m in members if m.message_id} | {r for m in members for r in m.refers_to}
        same_subject = subject_key(message.subject) == subject_key(members[0].subject) if members else False
        return requested if same_subject and known & set(message.refers_to) else None

    def thread_of_reply(self, message: Message) -> str | None:
        """An arriving message joins the thread whose message (or root) it refers to, subject matching."""
        for other in reversed(list(self.messages.values())):
            if other.id == message.id:
                continue
            ids = ({other.message_id} if other.message_id else set()) | set(other.refers_to)
            if ids & set(message.refers_to) and subject_key(other.subject) == subject_key(message.subject):
                return other.thread_id
        return None

    def move_to_thread(self, message: Message, thread_id: str) -> None:
        self.threads[message.thread_id].remove(message.id)
        if not self.threads[message.thread_id]:
            del self.threads[message.thread_id]
        message.thread_id = thread_id
        self.threads.setdefault(thread_id, []).append(message.id)

    # --- search -----------------------------------------------------------------------------------

    def label_id(self, name_or_id: str) -> str | None:
        if name_or_id in self.labels:
            return name_or_id
        wanted = label_key(name_or_id)
        return next((label.id for label in self.labels.values() if label_key(label.name) == wanted), None)

    def search(self, q: str | None, label_ids: Iterable[str], include_spam_trash: bool, now: datetime,
               search_delay: timedelta) -> list[Message]:
        """Messages matching, newest first (Gmail's order). A `q` reaches only messages already
        indexed: those older than `search_delay` (Gmail's search index trails new mail)."""
        wanted = list(label_ids)
        for label in wanted:
            if label not in self.labels:
                raise ApiError(400, "invalidArgument", f"Invalid label: {label}")
        terms = parse_query(q or "", self, now)
        found = []
        for message in self.messages.values():
            if not include_spam_trash and message.labels & HIDDEN_UNLESS_ASKED \
                    and not any(label in HIDDEN_UNLESS_ASKED for label in wanted):
                continue
            if not all(label in message.labels for label in wanted):
                continue
            if q and message.internal_date > now - search_delay:
                continue
            if all(term(message) for term in terms):
                found.append(message)
        return sorted(found, key=lambda m: (m.internal_date, m.id), reverse=True)


def parse_query(q: str, mailbox: Mailbox, now: datetime) -> list[Callable[[Message], bool]]:
    """Gmail's search operators coachd uses: rfc822msgid:, after:/before:, newer_than:/older_than:,
    in:, label:, is:unread, each negated with a leading "-".

    Gmail would read anything else as words to look for in the text; the fake refuses it (400), so
    that a provider never relies on a search the fake does not really do."""
    terms: list[Callable[[Message], bool]] = []
    try:
        words = shlex.split(q)
    except ValueError as error:
        raise ApiError(400, "invalidArgument", f"Invalid query: {error}") from error
    for word in words:
        negate = word.startswith("-")
        operator, _, value = word.lstrip("-").partition(":")
        test = _term(operator.lower(), value, mailbox, now)
        terms.append(_negated(test) if negate else test)
    return terms


def _term(operator: str, value: str, mailbox: Mailbox, now: datetime) -> Callable[[Message], bool]:
    if operator == "rfc822msgid" and value:
        wanted = value.strip("<>")
        return lambda m: m.message_id is not None and m.message_id.strip("<>") == wanted
    if operator in ("after", "before") and value:
        moment = _search_time(value)
        return (lambda m: m.internal_date > moment) if operator == "after" else (lambda m: m.internal_date < moment)
    if operator in ("newer_than", "older_than") and re.fullmatch(r"\d+[dmy]", value):
        days = int(value[:-1]) * {"d": 1, "m": 30, "y": 365}[value[-1]]
        moment = now - timedelta(days=days)
        return (lambda m: m.internal_date > moment) if operator == "newer_than" else (
            lambda m: m.internal_date < moment)
    if operator == "in" and value.lower() in ("inbox", "sent", "spam", "trash", "anywhere"):
        if value.lower() == "anywhere":
            return lambda m: True
        system = value.upper()
        return lambda m: system in m.labels
    if operator == "label" and value:
        label = mailbox.label_id(value)
        return lambda m: label is not None and label in m.labels
    if operator == "is" and value.lower() == "unread":
        return lambda m: "UNREAD" in m.labels
    raise ApiError(400, "invalidArgument", f"The fake does not search for {operator}:{value!r} (Gmail would "
                   "search the text for it)")


def _negated(test: Callable[[Message], bool]) -> Callable[[Message], bool]:
    return lambda m: not test(m)


def _search_time(value: str) -> datetime:
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        day = datetime.strptime(value, "%Y/%m/%d")
    except ValueError as error:
        raise ApiError(400, "invalidArgument", f"Invalid date {value!r}") from error
    return day.replace(tzinfo=SEARCH_ZONE)
