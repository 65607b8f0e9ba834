"""The daemon's send job through the `smtp` provider to a real SMTP server: every email once, retries
for 4xx, failures for 5xx, shown by `coachd status`."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from coachd.cli.commands import main
from coachd.runtime.clock import VirtualClock
from coachd.config import load_config_text
from coachd.runtime.wiring import open_program
from coachd.store.models import Outbox
from tests.support.smtp_servers import Recorder, smtp_server
from tests.support.ticks import EXAMPLE, program_start, tick


def smtp_config(tmp_path, port: int):  # noqa: ARG001
    text = EXAMPLE.read_text().replace(
        "send: {provider: file}", f"send: {{provider: smtp, host: 127.0.0.1, port: {port}, tls: none}}")
    path = EXAMPLE.parent / "example.yaml"  # relative busy: paths resolve beside the example
    return load_config_text(text, path), text


def outbox(tmp_path, cfg) -> list[Outbox]:
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        with program.store.session() as db:
            return list(db.scalars(select(Outbox).order_by(Outbox.id)))
    finally:
        program.close()


def test_the_send_job_delivers_every_email_once_over_smtp(tmp_path):
    recorder = Recorder(defer_on={2})
    with smtp_server(recorder) as port:
        cfg, _ = smtp_config(tmp_path, port)
        now = program_start(cfg) + timedelta(days=1)
        tick(tmp_path, cfg, now)
        rows = outbox(tmp_path, cfg)
        assert rows and len(recorder.received) == len(rows) - 1  # one answered 451
        [deferred] = [r for r in rows if r.status == "queued"]
        assert deferred.attempts == 1 and "451" in deferred.last_error
        tick(tmp_path, cfg, now + timedelta(minutes=2))  # after the backoff
        tick(tmp_path, cfg, now + timedelta(minutes=3))  # and again: nothing is sent twice
    rows = outbox(tmp_path, cfg)
    assert {r.status for r in rows} == {"sent"}
    ids = [email.message_from_bytes(r.data, policy=email.policy.default)["Message-ID"] for r in recorder.received]
    assert sorted(ids) == sorted(r.message_id for r in rows)
    # The envelope goes to the person the row names.
    by_id = {r.message_id: r for r in rows}
    for received, message_id in zip(recorder.received, ids):
        assert received.rcpt_tos == [by_id[message_id].to_addr]


def test_a_refused_address_is_marked_failed_and_shown_by_status(tmp_path):
    recorder = Recorder(refuse_to={"ben@northwind.example"})
    with smtp_server(recorder) as port:
        cfg, text = smtp_config(tmp_path, port)
        tick(tmp_path, cfg, program_start(cfg) + timedelta(days=1))
    failed = [r for r in outbox(tmp_path, cfg) if r.status == "failed"]
    assert failed and {r.to_addr for r in failed} == {"ben@northwind.example"}
    assert all("550" in r.last_error for r in failed)
    config = tmp_path / "smtp.yaml"
    config.write_text(text.replace("busy: calendars/", f"busy: {EXAMPLE.parent / 'calendars'}/"))
    status = CliRunner().invoke(main, ["status", str(config), "--state", str(tmp_path), "--json"])
    data = json.loads(status.output)
    assert data["mail"]["failed"] == len(failed)
    assert {m["to"] for m in data["failed_mail"]} == {"ben@northwind.example"}
