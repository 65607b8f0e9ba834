"""The imap inbox against a real Dovecot on loopback: TLS, login, flag and move modes, UIDVALIDITY, drops,
batches, the inbox job end to end, and `coachd check` on an imap config (the Inbox contract it runs is in
tests/contracts/test_inbox_imap.py)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme
from imapclient import IMAPClient
from sqlalchemy import select

from coachd.runtime.clock import VirtualClock
from coachd.config import load_config
from coachd.execute.executor import ActionRecord, Executor
from coachd.observe.inbox import read_inbox
from coachd.runtime.wiring import open_program
from coachd.providers.mailserver.imap import PROCESSED, ImapInbox, InboxError, TransientInboxError
from coachd.store.models import Reply
from tests.support.cli import config_with, invoke
from tests.support.imap_server import PASSWORD, USER, Dovecot, imap_inbox
from tests.support.smtp_servers import free_port

PASSWORD_ENV = "COACHD_TEST_IMAP_PASSWORD"
# No real header, invalid UTF-8 (IMAP carries no NUL: these tests use 0x80 where a NUL would be).
MALFORMED = b"\xff\xfe\x00not: really\r\nheaders\r\n\r\n\x80\x81 body with \x00 bytes"
NOW = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)
@pytest.fixture
def inbox(dovecot: Dovecot, tmp_path: Path, folder: str) -> Iterator[ImapInbox]:
    box = imap_inbox(dovecot, tmp_path / "state", folder)
    yield box
    box.close()


def reply(n: int) -> bytes:
    return (f"From: Ana Souza <ana@northwind.example>\r\nTo: coaching@northwind.example\r\n"
            f"Subject: Re: feedback {n}\r\nMessage-ID: <reply-{n}@northwind.example>\r\n\r\n"
            f"Rating: {n % 5 + 1}\r\n").encode()


def append(dovecot: Dovecot, folder: str, messages: list[bytes]) -> None:
    with dovecot.admin() as client:
        for raw in messages:
            client.append(folder, raw)


def mailbox(dovecot: Dovecot, folder: str) -> list[tuple[bytes, set[str]]]:
    """(bytes, flags) of every message in the folder, in UID order, read without changing anything."""
    with dovecot.admin() as client:
        client.select_folder(folder, readonly=True)
        answer = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]", "FLAGS"])
    return [(answer[uid][b"BODY[]"], {f.decode() for f in answer[uid][b"FLAGS"]} - {"\\Recent"})
            for uid in sorted(answer)]


def uidvalidity(dovecot: Dovecot, folder: str) -> int:
    with dovecot.admin() as client:
        return client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"]


def recreate(dovecot: Dovecot, folder: str, messages: list[bytes]) -> None:
    """Delete the folder and make it again with these messages: a new UIDVALIDITY, no flags."""
    with dovecot.admin() as client:
        client.delete_folder(folder)
        client.create_folder(folder)
        for raw in messages:
            client.append(folder, raw)


# --- reading --------------------------------------------------------------------------------------


def test_fetch_yields_unprocessed_messages_oldest_first_byte_for_byte(dovecot, folder, inbox):
    messages = [reply(n) for n in range(3)]
    append(dovecot, folder, messages)
    got = list(inbox.fetch())
    assert [m.raw for m in got] == messages
    uids = [int(m.ref.split(":")[1]) for m in got]
    assert uids == sorted(uids)
    assert len({m.ref.split(":")[0] for m in got}) == 1, "one UIDVALIDITY"


def test_fetch_peeks_so_unprocessed_mail_is_not_marked_seen(dovecot, folder, inbox):
    append(dovecot, folder, [reply(1), reply(2)])
    assert len(list(inbox.fetch())) == 2
    assert [flags for _, flags in mailbox(dovecot, folder)] == [set(), set()]


def test_120_messages_are_fetched_in_batches_of_50_without_reading_ahead(dovecot, folder, inbox, monkeypatch):
    messages = [reply(n) for n in range(120)]
    with dovecot.admin() as client:
        client.multiappend(folder, messages)
    batches: list[int] = []
    real_fetch = IMAPClient.fetch

    def counting_fetch(client, uids, data, modifiers=None):
        if "BODY.PEEK[]" in data:
            batches.append(len(uids))
        return real_fetch(client, uids, data, modifiers)

    monkeypatch.setattr(IMAPClient, "fetch", counting_fetch)
    reading = inbox.fetch()
    first = next(reading)
    assert batches == [50], "bodies are fetched a batch at a time, not the whole mailbox"
    rest = list(reading)
    assert [m.raw for m in [first, *rest]] == messages
    assert batches == [50, 50, 20]


# --- processed --------------------------------------------------------------------------------------


def test_flag_mode_sets_seen_and_the_keyword_and_fetch_skips_it(dovecot, folder, inbox):
    append(dovecot, folder, [reply(1), reply(2)])
    first, second = inbox.fetch()
    inbox.mark_processed(first.ref)
    assert mailbox(dovecot, folder) == [(reply(1), {"\\Seen", PROCESSED}), (reply(2), set())]
    assert [m.ref for m in inbox.fetch()] == [second.ref]


def test_move_mode_moves_the_message_to_a_new_processed_folder_with_the_same_bytes(dovecot, folder, tmp_path):
    append(dovecot, folder, [reply(1), reply(2)])
    processed = f"{folder}-done"
    inbox = imap_inbox(dovecot, tmp_path, folder, processed_folder=processed)
    first, second = inbox.fetch()
    inbox.mark_processed(first.ref)
    assert [raw for raw, _ in mailbox(dovecot, processed)] == [reply(1)], "moved, not deleted"
    assert [raw for raw, _ in mailbox(dovecot, folder)] == [reply(2)]
    assert [m.ref for m in inbox.fetch()] == [second.ref]
    inbox.close()


def test_move_without_the_move_capability_copies_and_expunges_only_that_message(dovecot, folder, tmp_path,
                                                                                monkeypatch):
    append(dovecot, folder, [reply(1), reply(2)])
    with dovecot.admin() as client:  # a person deleted reply 2 in a mail client that expunges later
        client.select_folder(folder)
        client.add_flags(client.search(["ALL"])[1:], ["\\Deleted"])
    real = IMAPClient.has_capability
    monkeypatch.setattr(IMAPClient, "has_capability", lambda client, name: name != "MOVE" and real(client, name))
    inbox = imap_inbox(dovecot, tmp_path, folder, processed_folder=f"{folder}-done")
    (only,) = inbox.fetch()  # a message flagged \Deleted is on its way out: not read
    inbox.mark_processed(only.ref)
    assert [raw for raw, _ in mailbox(dovecot, f"{folder}-done")] == [reply(1)]
    assert mailbox(dovecot, folder) == [(reply(2), {"\\Deleted"})], "the person's deletion is theirs to expunge"
    assert list(inbox.fetch()) == []
    inbox.close()


@pytest.mark.parametrize("processed_folder", [None, "Done"])
def test_marking_twice_is_harmless(dovecot, folder, tmp_path, processed_folder):
    append(dovecot, folder, [reply(1)])
    inbox = imap_inbox(dovecot, tmp_path, folder,
                       processed_folder=processed_folder and f"{folder}-{processed_folder}")
    (message,) = inbox.fetch()
    inbox.mark_processed(message.ref)
    before = (mailbox(dovecot, folder), processed_folder and mailbox(dovecot, f"{folder}-{processed_folder}"))
    inbox.mark_processed(message.ref)
    inbox.close()
    if processed_folder is None:  # and by another process, which knows only what the server says
        other = imap_inbox(dovecot, tmp_path, folder)
        other.mark_processed(message.ref)
        other.close()
    assert (mailbox(dovecot, folder), processed_folder and mailbox(dovecot, f"{folder}-{processed_folder}")) \
        == before


def test_unknown_refs_raise_key_error(dovecot, folder, inbox):
    append(dovecot, folder, [reply(1)])
    (message,) = inbox.fetch()
    validity = message.ref.split(":")[0]
    for ref in ("no-such-message", f"{validity}:999999", "1:1", ""):
        with pytest.raises(KeyError):
            inbox.mark_processed(ref)
    assert [m.ref for m in inbox.fetch()] == [message.ref]


# --- UIDVALIDITY ---------------------------------------------------------------------------------


def test_a_stale_ref_is_found_again_by_message_id_after_the_folder_was_recreated(dovecot, folder, inbox):
    append(dovecot, folder, [reply(1), MALFORMED.replace(b"\x00", b"\x80")])
    with_id, without_id = inbox.fetch()
    recreate(dovecot, folder, [reply(1), MALFORMED.replace(b"\x00", b"\x80")])
    inbox.mark_processed(with_id.ref)
    assert [flags for _, flags in mailbox(dovecot, folder)] == [{"\\Seen", PROCESSED}, set()]
    with pytest.raises(KeyError):  # no Message-ID to find it by
        inbox.mark_processed(without_id.ref)
    (again,) = inbox.fetch()
    assert again.raw == MALFORMED.replace(b"\x00", b"\x80") and again.ref != without_id.ref


def test_uidvalidity_change_makes_the_inbox_job_process_nothing_twice(dovecot, folder, tmp_path, monkeypatch,
                                                                      caplog):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    shutil.copy(dovecot.ca_file, tmp_path / "imap-ca.pem")  # given relative to the config file
    cfg = load_config(config_with(tmp_path, receive=(
        f"{{provider: imap, host: {dovecot.host}, port: {dovecot.starttls_port}, tls: starttls, "
        f"username: {USER}, password_env: {PASSWORD_ENV}, folder: {folder}, ca_file: imap-ca.pem}}")))
    records: list[ActionRecord] = []

    def inbox_job() -> int:
        """One run of the inbox job in a fresh daemon process (the same state directory each time)."""
        program = open_program(cfg, tmp_path / "state", VirtualClock(NOW))
        try:
            assert program.inbox.ca_file == tmp_path / "imap-ca.pem"
            return read_inbox(program, Executor(program, records.append), NOW)
        finally:
            program.inbox.close()
            program.close()

    append(dovecot, folder, [reply(n) for n in range(3)])
    assert inbox_job() == 3
    validity = uidvalidity(dovecot, folder)
    recreate(dovecot, folder, [reply(n) for n in range(4)])  # the same three, unflagged, and one new
    assert uidvalidity(dovecot, folder) != validity
    with caplog.at_level(logging.WARNING, logger="coachd.imap"):
        assert inbox_job() == 1
    # Noticed across the restart: the last UIDVALIDITY is kept in the state directory.
    assert f"UIDVALIDITY changed from {validity} to {uidvalidity(dovecot, folder)}" in caplog.text
    assert inbox_job() == 0

    program = open_program(cfg, tmp_path / "state", VirtualClock(NOW))
    with program.store.session() as db:
        stored = sorted(db.scalars(select(Reply.message_id)))
    program.close()
    assert stored == sorted(f"<reply-{n}@northwind.example>" for n in range(4))
    assert sorted(r.key for r in records if r.kind == "reply") == sorted(
        f"reply:{cfg.program.id}/<reply-{n}@northwind.example>" for n in range(4))
    assert [flags for _, flags in mailbox(dovecot, folder)] == [{"\\Seen", PROCESSED}] * 4


# --- connections -------------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", ["starttls", "implicit", "none"])
def test_tls_modes_verify_the_server_against_the_configured_ca(dovecot, folder, tmp_path, tls):
    append(dovecot, folder, [reply(1)])
    inbox = imap_inbox(dovecot, tmp_path, folder, tls=tls)
    assert [m.raw for m in inbox.fetch()] == [reply(1)]
    if tls != "none":
        assert inbox._client is not None and inbox._client.socket().version().startswith("TLS")
    inbox.close()


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_a_server_the_ca_does_not_vouch_for_is_refused_clearly(dovecot, folder, tmp_path, tls):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    inbox = imap_inbox(dovecot, tmp_path, folder, tls=tls, ca_file=other_ca)
    port = dovecot.implicit_port if tls == "implicit" else dovecot.starttls_port
    with pytest.raises(TransientInboxError, match=f"cannot connect to 127.0.0.1:{port}: .*certificate verify failed"):
        list(inbox.fetch())
    assert inbox.connections_opened == 0


def test_a_wrong_password_is_a_clear_error_naming_the_server(dovecot, folder, tmp_path):
    inbox = imap_inbox(dovecot, tmp_path, folder, password="wrong")
    with pytest.raises(TransientInboxError) as refused:
        list(inbox.fetch())
    assert str(refused.value).startswith(f"127.0.0.1:{dovecot.starttls_port}: login refused for 'coachd': ")
    assert "AUTHENTICATIONFAILED" in str(refused.value) and "\n" not in str(refused.value)


def test_a_connection_the_server_drops_mid_fetch_is_reopened_once(dovecot, folder, tmp_path):
    messages = [reply(n) for n in range(12)]
    append(dovecot, folder, messages)
    inbox = imap_inbox(dovecot, tmp_path, folder, batch_size=5)
    reading = inbox.fetch()
    got = [next(reading)]
    dovecot.kick()  # between two batches: the next FETCH meets a closed connection
    got += list(reading)
    assert [m.raw for m in got] == messages, "each message once, none lost"
    assert inbox.connections_opened == 2
    inbox.mark_processed(got[0].ref)
    inbox.close()


def test_a_second_failure_after_the_reconnect_gives_up_with_a_transient_error(dovecot, folder, tmp_path):
    append(dovecot, folder, [reply(n) for n in range(3)])
    inbox = imap_inbox(dovecot, tmp_path, folder, batch_size=1)
    reading = inbox.fetch()
    next(reading)
    dovecot.kick()
    inbox.port = free_port()  # the server is gone for good: nobody listens there
    with pytest.raises(TransientInboxError, match=f"cannot connect to 127.0.0.1:{inbox.port}"):
        next(reading)


def test_a_folder_that_does_not_exist_is_a_clear_error(dovecot, tmp_path):
    inbox = imap_inbox(dovecot, tmp_path, "NoSuchFolder")
    with pytest.raises(InboxError, match=f"127.0.0.1:{dovecot.starttls_port}.*NoSuchFolder"):
        list(inbox.fetch())
    inbox.close()


# --- coachd check -----------------------------------------------------------------------------------------


def test_check_names_a_missing_imap_password_variable_and_passes_once_it_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    config = config_with(tmp_path, receive=(
        f"{{provider: imap, host: imap.northwind.example, username: coaching, password_env: {PASSWORD_ENV}, "
        "processed_folder: Coaching/Done}"))
    result = invoke("check", str(config))
    assert result.exit_code == 2
    assert (f"organizer.receive.password_env: the environment variable {PASSWORD_ENV} is not set"
            in result.stderr)
    assert "Traceback" not in result.output
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    result = invoke("check", str(config))
    assert result.exit_code == 0, result.output  # and nothing connected to imap.northwind.example
    assert "OK: the config is valid." in result.output
