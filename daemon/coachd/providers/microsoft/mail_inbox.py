"""The `outlook` inbox: replies read incrementally with a mail folder's message delta (from a stored
deltaLink), each message's raw MIME ($value) into the inbox pipeline, processed ones given a category
(or moved to a folder, when configured); nothing is ever deleted.

State (state_dir/outlook-inbox-*.json, written atomically): the deltaLink to read on from, the ids
fetched but not yet marked processed (`pending`, with when each arrived: fetched again next time, so a
crash between fetch and mark loses nothing), the receivedDateTime of the newest message marked
(`last_received`), and, when processed mail is moved, the ids already moved (a move gives a message a
new id, so marking twice must not look like an unknown message).

Graph's delta state expires without notice (410 SyncStateNotFound). The inbox then lists the folder
again from a day before the last message it marked (the message delta takes a `receivedDateTime ge`
filter), less what carries the processed category: the category (or the move out of the folder), not
the state file, is the truth of what was handled, so a resync or a lost state file never hands a
processed reply back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from coachd.providers.base import InboundMessage, Inbox, Permanent
from coachd.providers.family import ProviderRefused
from coachd.providers.google.state_file import StateFile, remember  # the provider-neutral state file
from coachd.providers.microsoft.client import GraphApiError, GraphClient, GraphSyncStateNotFound

log = logging.getLogger("coachd.microsoft")

PROCESSED_CATEGORY = "coachd processed"
FIRST_LOOKBACK = timedelta(days=14)
RESYNC_MARGIN = timedelta(days=1)
PENDING_KEPT = 10_000
MOVED_KEPT = 5_000
PAGE = 100
_SELECT = "id,receivedDateTime,categories,internetMessageId"


class OutlookInboxError(Permanent):
    """The mailbox cannot be read as configured (a folder that does not exist)."""


class OutlookInbox(Inbox):
    def __init__(self, client: GraphClient, *, state_dir: Path, folder: str = "inbox",
                 processed_category: str = PROCESSED_CATEGORY, processed_folder: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 first_lookback: timedelta = FIRST_LOOKBACK) -> None:
        self.client = client
        self.folder = folder
        self.processed_category = processed_category
        self.processed_folder = processed_folder
        self.clock = clock
        self.first_lookback = first_lookback
        digest = hashlib.sha256(f"{client.mailbox.lower()}/{folder}".encode()).hexdigest()[:16]
        self.state = StateFile(Path(state_dir) / f"outlook-inbox-{digest}.json")
        self._destination: str | None = None
        self.resyncs = 0  # for tests and logs: how often the delta state had expired

    # --- Inbox ---------------------------------------------------------------------------------------

    def fetch(self) -> Iterator[InboundMessage]:
        """Messages fetched before and not yet marked, then what arrived since, oldest first. The state
        is saved once every page of the delta is read, before the first message is yielded."""
        link = self.state.read().get("delta_link")
        if link is None:
            changes, link = self._full_sync("first run")
        else:
            try:
                changes, link = self._delta(str(link))
            except GraphSyncStateNotFound:
                self.resyncs += 1
                changes, link = self._full_sync("the delta link expired")
        with self.state.changing() as state:
            pending: dict[str, str] = dict(state.get("pending", {}))
            for item in changes:
                ref = str(item["id"])
                if "@removed" in item or self._is_processed(item):
                    pending.pop(ref, None)  # moved, deleted or handled (here, by another process, a person)
                elif ref not in pending:
                    pending[ref] = str(item.get("receivedDateTime") or "")
            ordered = sorted(pending.items(), key=lambda entry: entry[1])[-PENDING_KEPT:]
            state["pending"], state["delta_link"] = dict(ordered), link
        for ref, _received in ordered:
            raw = self._raw(ref)
            if raw is None:
                self._drop_pending(ref)  # gone meanwhile
                continue
            yield InboundMessage(ref, raw)

    def mark_processed(self, ref: str) -> None:
        state = self.state.read()
        if ref in state.get("moved", {}):
            return  # moved before: marking twice does nothing more
        pending = state.get("pending", {})
        if self.processed_folder is not None:
            self._move(ref, known=ref in pending)
        else:
            self._categorise(ref)
        with self.state.changing() as changing:
            received = changing.get("pending", {}).pop(ref, None) or pending.get(ref)
            if received and received > str(changing.get("last_received") or ""):
                changing["last_received"] = received

    # --- Graph ---------------------------------------------------------------------------------------

    def _delta(self, link: str) -> tuple[list[dict[str, Any]], str]:
        """Every change on every page from `link`, and the deltaLink of the last page."""
        changes: list[dict[str, Any]] = []
        for page in self.client.pages(link, page_size=PAGE, what=f"message delta of {self.folder}"):
            changes.extend(page.get("value") or ())
            following = page.get("@odata.deltaLink")
            if following:
                return changes, str(following)
        raise OutlookInboxError(f"Graph's message delta of {self.folder} ended without a deltaLink")

    def _full_sync(self, why: str) -> tuple[list[dict[str, Any]], str]:
        """What the folder holds from a day before the last message marked (or the first lookback), less
        the processed ones, oldest first; and the deltaLink to read on from."""
        last = self.state.read().get("last_received")
        since = (datetime.fromisoformat(str(last)) - RESYNC_MARGIN if last
                 else self.clock() - self.first_lookback)
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"{self.client.users_path}/mailFolders/{quote(self.folder, safe='')}/messages/delta"
        changes: list[dict[str, Any]] = []
        link: str | None = None
        try:
            for page in self.client.pages(path, params={"$filter": f"receivedDateTime ge {stamp}",
                                                        "$select": _SELECT},
                                          page_size=PAGE, what=f"message delta of {self.folder}"):
                changes.extend(page.get("value") or ())
                link = page.get("@odata.deltaLink") or link
        except GraphApiError as error:
            if error.status == 404:
                raise OutlookInboxError(f"the mailbox {self.client.mailbox} has no folder {self.folder!r}") from error
            raise
        if link is None:
            raise OutlookInboxError(f"Graph's message delta of {self.folder} ended without a deltaLink")
        unprocessed = [item for item in changes if "@removed" not in item and not self._is_processed(item)]
        log.info("outlook %s: %s; read %s since %s: %d not processed", self.client.mailbox, why, self.folder,
                 stamp, len(unprocessed))
        return changes, str(link)

    def _is_processed(self, item: dict[str, Any]) -> bool:
        wanted = self.processed_category.casefold()
        return any(str(c).casefold() == wanted for c in item.get("categories") or ())

    def _raw(self, ref: str) -> bytes | None:
        try:
            response = self.client.request("GET", f"{self._message_path(ref)}/$value", headers={"Accept": "*/*"},
                                           what=f"$value of {ref}")
        except GraphApiError as error:
            if error.status == 404:
                return None
            raise
        return response.content

    def _categorise(self, ref: str) -> None:
        path = self._message_path(ref)
        try:
            message = self.client.json("GET", path, params={"$select": "id,categories"}, what=f"categories of {ref}")
            categories = [str(c) for c in (message or {}).get("categories") or ()]
            if any(c.casefold() == self.processed_category.casefold() for c in categories):
                return
            # PATCH replaces the whole list: a person's own categories are kept beside coachd's.
            self.client.json("PATCH", path, body={"categories": [*categories, self.processed_category]},
                             what=f"category of {ref}")
        except GraphApiError as error:
            if error.status in (400, 404):
                raise KeyError(f"no message {ref!r} in the mailbox {self.client.mailbox}") from error
            raise

    def _move(self, ref: str, *, known: bool) -> None:
        destination = self._processed_folder_id()
        try:
            moved = self.client.json("POST", f"{self._message_path(ref)}/move", body={"destinationId": destination},
                                     what=f"move of {ref}")
        except GraphApiError as error:
            if error.status not in (400, 404):
                raise
            if not known:
                raise KeyError(f"no message {ref!r} in the mailbox {self.client.mailbox}") from error
            # Fetched here and gone now: an earlier move whose answer was lost, or a person moved it.
            log.info("outlook %s: %s is no longer in %s; taken as processed", self.client.mailbox, ref, self.folder)
            moved = None
        with self.state.changing() as changing:
            remember(changing.setdefault("moved", {}), ref, (moved or {}).get("id"), MOVED_KEPT)

    def _processed_folder_id(self) -> str:
        """The folder processed mail is moved to: a well-known name or an id as given, else a folder of that
        display name at the top of the mailbox, made when missing."""
        if self._destination is not None:
            return self._destination
        name = str(self.processed_folder)
        found = self._find_folder(name)
        if found is None:
            try:
                created = self.client.json("POST", f"{self.client.users_path}/mailFolders",
                                           body={"displayName": name}, what=f"mail folder {name}")
                found = str(created["id"])
                log.info("outlook %s: created the folder %s for processed replies", self.client.mailbox, name)
            except GraphApiError as error:
                if error.status != 409:
                    raise
                found = self._find_folder(name)  # made by another process meanwhile
        if found is None:
            raise OutlookInboxError(f"the mailbox {self.client.mailbox} has no folder {name!r}")
        self._destination = found
        return found

    def _find_folder(self, name: str) -> str | None:
        literal = name.replace("'", "''")
        for folder in self.client.items(f"{self.client.users_path}/mailFolders",
                                        params={"$filter": f"displayName eq '{literal}'"}, what="mail folders"):
            return str(folder["id"])
        return None

    def _message_path(self, ref: str) -> str:
        return f"{self.client.users_path}/messages/{quote(ref, safe='=')}"

    def _drop_pending(self, ref: str) -> None:
        with self.state.changing() as state:
            state.get("pending", {}).pop(ref, None)


def outlook_inbox(state_dir: Path, *, section: Any, credential_store: Any = None,
                  organizer_email: str | None = None) -> OutlookInbox:
    """The `receive: {provider: outlook}` inbox: replies in the section's `folder` (the inbox by default)
    of its mailbox, marked with `processed_category` or moved to `processed_folder`. Permission
    Mail.ReadWrite (read, categorise, move; coachd never deletes). Opens no connection."""
    from coachd.providers.microsoft.connect import graph_client

    folder = str(getattr(section, "folder", "inbox"))
    processed_folder = getattr(section, "processed_folder", None)
    if processed_folder is not None and processed_folder.strip().casefold() == folder.strip().casefold():
        raise ProviderRefused("receive", "processed_folder", f"must differ from folder ({folder})")
    client = graph_client(section, "receive", credential_store=credential_store, organizer_email=organizer_email)
    return OutlookInbox(client, state_dir=Path(state_dir), folder=folder,
                        processed_category=getattr(section, "processed_category", PROCESSED_CATEGORY),
                        processed_folder=processed_folder)
