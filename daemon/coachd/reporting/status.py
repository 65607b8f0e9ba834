"""`coachd status`: what an admin checks first: what is coming, what is stuck, what went wrong."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from coachd.config import ProgramConfig
from coachd.model.observed import Observed
from coachd.plan.planner import plan
from coachd.model.periods import program_end
from coachd.model.types import UTC
from coachd.observe.observer import observe
from coachd.store import job_runs_repo, meta_repo, outbox_repo, replies_repo, series_repo
from coachd.store.db import Store
from coachd.observe.readonly import existing_store, simulated_clock

UPCOMING = 10


def collect(cfg: ProgramConfig, store: Store) -> dict[str, Any]:
    pid = cfg.program.id
    clock = simulated_clock(store, pid)
    now = clock or datetime.now(UTC)
    simulated = clock is not None
    # What needs a decision is what the planner would report now: held cancellations, conflicts.
    observed = observe(store, pid)
    attention = plan(cfg, observed, now, session_mail=False, program_mail=False)
    with store.session() as db:
        titles = series_repo.titles(db, pid)
        upcoming = series_repo.upcoming_sessions(db, pid, now, UPCOMING)
        counts = outbox_repo.status_counts(db, pid)
        failed = outbox_repo.failed(db, pid, limit=20)
        stuck = outbox_repo.retrying(db, pid, limit=20)
        quarantined = replies_repo.quarantined(db, pid, newest_first=True, limit=20)
        # Provider roles that need a person or asked to wait (runtime/provider_health.py); {} is healthy.
        health = meta_repo.with_prefix(db, pid, "provider_health:")
        errors = job_runs_repo.recent_failures(db, pid, since=now - timedelta(days=7), limit=10)
        providers = [{"role": name.split(":", 1)[1], **value} for name, value in health if value]
        # What a monitor alerts on: work that has stopped until a person acts. A throttled provider
        # resumes by itself, and busy times that cannot be read show under `waiting`.
        needs_a_person = [f"{p['role']} provider: credentials expired since {p['since']}"
                          for p in providers if p.get("state") == "credentials_expired"]
        return {
            "program": pid, "as_of": now.isoformat(), "simulated": simulated,
            "healthy": not needs_a_person, "health_problems": needs_a_person,
            "ended": cfg.program.ends.isoformat() if now >= program_end(cfg) else None,
            "series": len(titles),
            "upcoming": [{"session": s.id, "title": titles.get(s.series_uid, s.series_uid),
                          "start": s.start.isoformat(), "end": s.end.isoformat()} for s in upcoming],
            "mail": {"queued": counts.get("queued", 0), "sent": counts.get("sent", 0),
                     "failed": counts.get("failed", 0),
                     # Sent again after a crash, the provider unable to say whether the first send arrived.
                     "resent_after_crash": outbox_repo.resent_after_crash(db, pid)},
            "failed_mail": [{"key": m.key, "to": m.to_addr, "kind": m.kind, "error": m.last_error} for m in failed],
            "retrying_mail": [{"key": m.key, "to": m.to_addr, "attempts": m.attempts, "error": m.last_error,
                               "next_attempt": m.next_attempt_at.isoformat()} for m in stuck],
            "quarantined": [{"id": r.id, "from": r.from_addr, "reason": r.reason,
                             "received": r.received_at.isoformat()} for r in quarantined],
            "providers": providers,
            "errors": [{"job": e.job, "at": e.started_at.isoformat(), "error": e.error} for e in errors],
            "held": [{"id": h.id, "occurrences": h.occurrences, "series": [k for k, _ in h.series],
                      "message": h.describe()} for h in attention.held],
            "conflicts": [{"series": c.series_key, "session": c.session_id, "start": c.start.isoformat(),
                           "people": list(c.people), "reason": c.reason} for c in attention.conflicts],
            "unplaced": list(attention.problems),
            # Unknown is not free: series with these people wait for their busy times (docs/architecture.md).
            "waiting": [{"person": w.person_id, "error": w.error, "series": list(w.series),
                         "since": _since(observed, w.person_id), "message": w.describe()} for w in attention.waiting],
            # Read before, failing now: planned on the last busy times read.
            "busy_stale": [{"person": pid, "error": e.error, "since": e.since.isoformat()}
                           for pid, e in sorted(observed.busy_errors.items())
                           if pid not in {w.person_id for w in attention.waiting}],
        }


def _since(observed: Observed, person_id: str) -> str | None:
    error = observed.busy_errors.get(person_id)
    return error.since.isoformat() if error else None


def show_status(console: Console, cfg: ProgramConfig, state: Path, as_json: bool) -> None:
    with existing_store(cfg, state) as store:
        if store is None:
            data: dict[str, Any] = {"program": cfg.program.id, "state": str(state), "series": 0,
                                    "note": "nothing booked yet: run `coachd run` or `coachd simulate`"}
            if as_json:
                console.print_json(json.dumps(data))
            else:
                console.print(f"{cfg.program.name}: nothing booked yet in {state} "
                              "(start the daemon with `coachd run`).", highlight=False)
            return
        data = collect(cfg, store)
    if as_json:
        console.print_json(json.dumps(data))
        return
    _render(console, cfg, data)


def _render(console: Console, cfg: ProgramConfig, data: dict[str, Any]) -> None:
    zone = cfg.program.zone
    as_of = datetime.fromisoformat(data["as_of"]).astimezone(zone)
    label = " (simulation clock)" if data["simulated"] else ""
    console.print(f"[bold]{cfg.program.name}[/]: status as of {as_of:%Y-%m-%d %H:%M %Z}{label}", highlight=False)
    mail = data["mail"]
    if data.get("ended"):
        console.print(f"[bold]The program ended on {data['ended']}[/]: nothing more is booked; "
                      f"{mail['queued']} email(s) still queued.", highlight=False)
    console.print(f"series booked: {data['series']}   mail: {mail['sent']} sent, {mail['queued']} queued, "
                  f"{mail['failed']} failed   quarantined replies: {len(data['quarantined'])}", highlight=False)
    if mail.get("resent_after_crash"):
        console.print(f"[yellow]{mail['resent_after_crash']} emails resent after a crash (may have arrived twice)[/]",
                      highlight=False)
    for problem in data.get("providers", []):
        if problem["state"] == "credentials_expired":
            console.print(f"[bold red]{problem['role']} provider: credentials expired since {problem['since']}; "
                          f"a person must log in again ({escape(problem['error'])})[/]", highlight=False)
        else:
            console.print(f"[yellow]{problem['role']} provider throttled until {problem['until']}[/] "
                          f"({escape(problem['error'])})", highlight=False)
    for waiting in data.get("waiting", []):
        since = f" (failing since {waiting['since']})" if waiting["since"] else ""
        console.print(f"[bold red]{escape(waiting['message'])}{since}[/]", highlight=False)
    for stale in data.get("busy_stale", []):
        console.print(f"[yellow]busy times of {stale['person']} not refreshed since {stale['since']}[/] "
                      f"({escape(stale['error'])}); planning on the last ones read", highlight=False)
    for hold in data["held"]:
        console.print(f"[bold red]{escape(hold['message'])}[/]", highlight=False)
    for problem in data["unplaced"]:
        console.print(f"[yellow]not placed:[/] {escape(problem)}", highlight=False)
    table = Table(title="Upcoming sessions", header_style="bold", title_justify="left")
    table.add_column(f"start ({cfg.program.timezone})")
    table.add_column("session")
    for item in data["upcoming"]:
        start = datetime.fromisoformat(item["start"]).astimezone(zone)
        table.add_row(f"{start:%a %Y-%m-%d %H:%M %Z}", item["title"])
    console.print(table)
    for title, rows, fields in (("Failed mail", data["failed_mail"], ("to", "kind", "error")),
                                ("Mail being retried", data["retrying_mail"], ("to", "attempts", "error")),
                                ("Quarantined replies", data["quarantined"], ("from", "reason", "received")),
                                ("Conflicts left in place", data["conflicts"], ("series", "start", "reason")),
                                ("Recent job errors", data["errors"], ("job", "at", "error"))):
        if not rows:
            continue
        table = Table(title=title, header_style="bold", title_justify="left")
        for name in fields:
            table.add_column(name)
        for row in rows:
            table.add_row(*(str(row[name]) for name in fields))
        console.print(table)
