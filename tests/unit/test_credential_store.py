"""The credential store: private, atomic, clear about a damaged file, refreshed by one process at a time."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat

import pytest

from coachd.providers.credentials import CredentialStore, CredentialStoreError
from tests.support.credential_race import WAIT, refresh_once


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_file_is_private_whatever_the_umask(tmp_path, umask_022):
    store = CredentialStore(tmp_path)
    store.put("google:coach@example.org", {"refresh_token": "r1"})
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.lock_path.stat().st_mode) == 0o600
    store.put("google:coach@example.org", {"refresh_token": "r2"})
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.get("google:coach@example.org") == {"refresh_token": "r2"}
    # Written whole, by rename: no temp file is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials.json", "credentials.lock"]


def test_a_refresh_writes_only_what_changed_and_only_without_an_error(tmp_path):
    store = CredentialStore(tmp_path)
    store.put("a", {"token": "1"})
    before = store.signature()
    with store.refreshing("a") as credential:
        assert credential.value == {"token": "1"}
    assert store.signature() == before  # nothing changed, nothing written
    with pytest.raises(RuntimeError), store.refreshing("a") as credential:
        credential.value = {"token": "half"}
        raise RuntimeError("the token endpoint failed")
    assert store.get("a") == {"token": "1"}
    store.delete("a")
    assert store.get("a") is None and store.signature() != before


@pytest.mark.parametrize("content", [b"{not json", b'["a list"]', b'{"format": 1, "credentials": {"a": 3}}',
                                     b'{"format": 99, "credentials": {}}'])
def test_a_damaged_file_is_a_clear_error_naming_it(tmp_path, content):
    store = CredentialStore(tmp_path)
    store.path.write_bytes(content)
    with pytest.raises(CredentialStoreError, match=str(store.path)):
        store.get("a")
    with pytest.raises(CredentialStoreError, match="log in again"):
        store.put("a", {"token": "x"})
    assert store.path.read_bytes() == content  # left for a person to look at


def test_two_processes_racing_to_refresh_one_token_refresh_it_once(tmp_path):
    store = CredentialStore(tmp_path)
    store.put("microsoft:coach@example.org", {"token": "expired"})
    calls = tmp_path / "calls"
    context = multiprocessing.get_context("spawn")
    first_inside, second_ready = context.Event(), context.Event()
    processes = [context.Process(target=refresh_once, args=(tmp_path, calls, "microsoft:coach@example.org", role,
                                                            first_inside, second_ready))
                 for role in ("first", "second")]
    for process in processes:
        process.start()
    for process in processes:
        process.join(WAIT * 2)
    assert [p.exitcode for p in processes] == [0, 0]
    assert calls.read_text() == "first\n"
    assert store.get("microsoft:coach@example.org") == {"token": "fresh from first"}
    assert json.loads(store.path.read_text())["format"] == 1
