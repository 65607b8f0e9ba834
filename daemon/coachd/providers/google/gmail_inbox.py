"""The `gmail` inbox: replies read from the organizer's Gmail incrementally (history.list from a stored
historyId), each message's raw bytes into the inbox pipeline, processed ones marked with a label; nothing
is ever deleted.

State (state_dir/gmail-inbox-*.json, written atomically): the historyId to read on from, the ids
fetched but not yet marked processed (`pending`: fetched again next time, so a crash between fetch
and mark loses nothing), and the internalDate of the newest message marked (`last_ms`). Gmail keeps
history for about a week, sometimes only hours: an expired id answers 404, and the inbox then lists
what arrived since the last message it knew (a day's margin, at most `rescan_limit` messages), less
what carries the processed label. The label, not the state file, is the truth of what was handled:
a lost state file means one bounded rescan, never a reply handled twice (and the pipeline dedupes by
Message-ID besides).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from googleapiclient.discovery import Resource

from coachd.providers.base import InboundMessage, Inbox, Permanent
from coachd.providers.family import ProviderRefused
from coachd.providers.google.client import DEFAULT_API_ROOT, DEFAULT_TIMEOUT_SECONDS, GoogleApiError, execute
from coachd.providers.google.gmail_service import GMAIL_MODIFY, gmail_service
from coachd.providers.google.state_file import StateFile
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger("coachd.gmail")

PROCESSED_LABEL = "coachd/processed"
FIRST_LOOKBACK = timedelta(days=14)
RESCAN_MARGIN = timedelta(days=1)
RESCAN_LIMIT = 2_000
PENDING_KEPT = 10_000
PAGE = 500  # history.list and messages.list take up to 500 a page
_GONE = frozenset({"TRASH", "SPAM"})


class GmailInboxError(Permanent):
    """The mailbox cannot be read as configured (a label that does not exist)."""


class GmailInbox(Inbox):
    def __init__(self, service: Resource, *, state_dir: Path, user: str = "me", label: str = "INBOX",
                 processed_label: str = PROCESSED_LABEL, policy: RetryPolicy = DEFAULT_POLICY,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), first_lookback: timedelta = FIRST_LOOKBACK,
                 rescan_limit: int = RESCAN_LIMIT) -> None:
        self.service = service
        self.user = user
        self.label = label
        self.processed_label = processed_label
        self.policy = policy
        self.clock = clock
        self.first_lookback = first_lookback
        self.rescan_limit = rescan_limit
        digest = hashlib.sha256(f"{user.lower()}/{label}".encode()).hexdigest()[:16]
        self.state = StateFile(Path(state_dir) / f"gmail-inbox-{digest}.json")
        self._label_ids: dict[str, str] = {}
        self._dates: dict[str, int] = {}  # ref -> internalDate (ms) of what this process fetched
        self.rescans = 0  # for tests and logs: how often history had expired

    # --- Inbox ---------------------------------------------------------------------------------------

    def fetch(self) -> Iterator[InboundMessage]:
        """Messages fetched before and not yet marked, then what arrived since, in the order Gmail
        recorded their arrival. The state is saved before the first message is yielded."""
        processed = self._label_id(self.processed_label, create=True)
        source = self._label_id(self.label, create=False)
        history_id = self.state.read().get("history_id")
        if history_id is None:
            arrived, history_id = self._rescan(source, processed, "first run")
        else:
            try:
                arrived, history_id = self._history_since(str(history_id), source)
            except GoogleApiError as error:
                if error.status not in (404, 400):
                    raise
                self.rescans += 1
                arrived, history_id = self._rescan(source, processed, f"history id {history_id} expired")
        with self.state.changing() as state:
            pending = list(dict.fromkeys([*state.get("pending", []), *arrived]))[-PENDING_KEPT:]
            state["pending"], state["history_id"] = pending, history_id
        for ref in pending:
            message = self._get(ref)
            if message is None or processed in message.get("labelIds", ()) or _GONE & set(message.get("labelIds", ())):
                self._drop_pending(ref)  # deleted, trashed or handled meanwhile (another process, a person)
                continue
            self._dates[ref] = int(message.get("internalDate") or 0)
            yield InboundMessage(ref, base64.urlsafe_b64decode(_padded(message["raw"])))

    def mark_processed(self, ref: str) -> None:
        processed = self._label_id(self.processed_label, create=True)
        request = self.service.users().messages().modify(
            userId=self.user, id=ref, body={"addLabelIds": [processed], "removeLabelIds": ["UNREAD"]})
        try:
            answer = execute(request, f"messages.modify of {ref}", self.policy)
        except GoogleApiError as error:
            if error.status in (400, 404):
                raise KeyError(f"no message {ref!r} in the Gmail of {self.user}") from error
            raise
        date = self._dates.pop(ref, None) or int((answer or {}).get("internalDate") or 0)
        with self.state.changing() as state:
            state["pending"] = [p for p in state.get("pending", []) if p != ref]
            if date > int(state.get("last_ms") or 0):
                state["last_ms"] = date

    # --- Gmail ---------------------------------------------------------------------------------------

    def _history_since(self, start: str, source: str) -> tuple[list[str], str]:
        """Ids added to `source` after `start`, over every page, and the id to read on from next time:
        the first page's historyId (a record added while later pages are read comes again next time,
        and is skipped then as pending or processed, rather than missed)."""
        arrived: list[str] = []
        token: str | None = None
        next_start: str | None = None
        while True:
            request = self.service.users().history().list(userId=self.user, startHistoryId=start,
                                                          historyTypes=["messageAdded"], labelId=source,
                                                          maxResults=PAGE, pageToken=token)
            answer = execute(request, f"history.list from {start}", self.policy) or {}
            next_start = next_start or str(answer.get("historyId") or start)
            for record in answer.get("history", []):
                for added in record.get("messagesAdded", []):
                    arrived.append(added["message"]["id"])
            token = answer.get("nextPageToken")
            if not token:
                return list(dict.fromkeys(arrived)), next_start

    def _rescan(self, source: str, processed: str, why: str) -> tuple[list[str], str]:
        """What arrived in `source` since the last message known (less a margin), not yet processed,
        oldest first; and the mailbox's historyId, read before the listing so nothing falls between."""
        profile = execute(self.service.users().getProfile(userId=self.user), "getProfile", self.policy) or {}
        history_id = str(profile["historyId"])
        last_ms = int(self.state.read().get("last_ms") or 0)
        since = (datetime.fromtimestamp(last_ms / 1000, UTC) - RESCAN_MARGIN if last_ms
                 else self.clock() - self.first_lookback)
        query = f"after:{int(since.timestamp())} -label:{_search_name(self.processed_label)}"
        found: list[str] = []
        token: str | None = None
        while len(found) < self.rescan_limit:
            request = self.service.users().messages().list(userId=self.user, labelIds=[source], q=query,
                                                           maxResults=PAGE, pageToken=token)
            answer = execute(request, f"messages.list {query}", self.policy) or {}
            found += [m["id"] for m in answer.get("messages", [])]
            token = answer.get("nextPageToken")
            if not token:
                break
        if len(found) >= self.rescan_limit:
            log.warning("gmail %s: the rescan (%s) stopped at %d messages since %s; older ones are not read",
                        self.user, why, self.rescan_limit, since.isoformat())
        log.info("gmail %s: %s; read %s since %s: %d not processed", self.user, why, self.label,
                 since.isoformat(), len(found))
        # messages.list is newest first; pages may repeat one when mail arrives meanwhile.
        return list(dict.fromkeys(reversed(found[:self.rescan_limit]))), history_id

    def _get(self, ref: str) -> dict[str, Any] | None:
        request = self.service.users().messages().get(userId=self.user, id=ref, format="raw")
        try:
            return execute(request, f"messages.get of {ref}", self.policy)  # type: ignore[no-any-return]
        except GoogleApiError as error:
            if error.status == 404:
                return None
            raise

    def _label_id(self, name: str, *, create: bool) -> str:
        if name in self._label_ids:
            return self._label_ids[name]
        found = self._find_label(name)
        if found is None and create:
            body = {"name": name, "labelListVisibility": "labelShow", "messageListVisibility": "show"}
            try:
                created = execute(self.service.users().labels().create(userId=self.user, body=body),
                                  f"labels.create {name}", self.policy)
                found = created["id"]
                log.info("gmail %s: created label %s for processed replies", self.user, name)
            except GoogleApiError as error:
                if error.status != 409:
                    raise
                found = self._find_label(name)  # made by another process meanwhile
        if found is None:
            raise GmailInboxError(f"the Gmail of {self.user} has no label {name!r}")
        self._label_ids[name] = found
        return found

    def _find_label(self, name: str) -> str | None:
        answer = execute(self.service.users().labels().list(userId=self.user), "labels.list", self.policy) or {}
        for label in answer.get("labels", []):
            if label.get("id") == name or str(label.get("name", "")).casefold() == name.casefold():
                return str(label["id"])
        return None

    def _drop_pending(self, ref: str) -> None:
        with self.state.changing() as state:
            state["pending"] = [p for p in state.get("pending", []) if p != ref]


def _search_name(label: str) -> str:
    """A label as Gmail's search writes it: spaces and slashes become hyphens."""
    return re.sub(r"[\s/]+", "-", label.strip())


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def gmail_inbox(state_dir: Path, *, auth: Any, credential_store: Any = None, api_root: str = DEFAULT_API_ROOT,
                organizer_email: str | None = None, folder: str = "INBOX", processed_label: str = PROCESSED_LABEL,
                timeout: float = DEFAULT_TIMEOUT_SECONDS) -> GmailInbox:
    """The `receive: {provider: gmail}` inbox: replies under the label `folder` (INBOX by default), marked
    with `processed_label`. Scope gmail.modify (read and label; it cannot delete for good). Opens no
    connection (credentials are fetched on the first fetch)."""
    from coachd.providers.google.auth import google_credentials  # the auth helper's module (issue 17 point 2)

    if folder.strip().casefold() == processed_label.strip().casefold():
        raise ProviderRefused("receive", "processed_label", f"must differ from folder ({folder})")
    credentials = google_credentials(auth, [GMAIL_MODIFY], credential_store, subject=organizer_email, role="receive")
    account = auth.acting_for(organizer_email) or "me"
    return GmailInbox(gmail_service(api_root, credentials, timeout), state_dir=Path(state_dir), user=account,
                      label=folder, processed_label=processed_label)
