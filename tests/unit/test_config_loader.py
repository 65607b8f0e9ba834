"""load_config and load_config_text: YAML errors, paths and lines, defaults, lookups, the JSON Schema."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from coachd.config import ConfigError, Problem, ProgramConfig, load_config, load_config_text
from coachd.config.values import DigestCadence

FIXTURES = Path(__file__).parents[1] / "fixtures" / "config"
MINIMAL = (FIXTURES / "minimal.yaml").read_text()
SOURCE = FIXTURES / "inline.yaml"  # not a file: relative paths in inline texts resolve beside the fixtures


def problems(text: str, source: Path = SOURCE) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_config_text(text, source)
    return [str(p) for p in error.value.problems]


def test_problem_text():
    problem = Problem("people[2].timezone", "unknown time zone 'X'", 7)
    assert str(problem) == "people[2].timezone: unknown time zone 'X' (line 7)"
    assert str(Problem("program.ends", "required key is missing", None)) == "program.ends: required key is missing"
    assert str(Problem("", "YAML syntax error: x", 3)) == "YAML syntax error: x (line 3)"


def test_config_error_carries_file_and_problems(tmp_path):
    error = ConfigError(tmp_path / "c.yaml", [Problem("a", "b", 1), Problem("c", "d", None)])
    assert isinstance(error, Exception)
    assert error.file == tmp_path / "c.yaml"
    assert str(error).splitlines() == [f"{tmp_path / 'c.yaml'}: 2 problems", "  a: b (line 1)", "  c: d"]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "nope.yaml")
    assert error.value.file == tmp_path / "nope.yaml"
    assert [str(p) for p in error.value.problems] == ["cannot read the config file: No such file or directory"]


def test_a_folder_is_not_a_config(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    assert [str(p) for p in error.value.problems] == ["cannot read the config file: Is a directory"]


def test_binary_file_names_the_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"program:\n  name: caf\xe9\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert [str(p) for p in error.value.problems] == ["the file is not UTF-8 text (line 2)"]


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("\ufeff".encode() + MINIMAL.encode())
    assert load_config(path).program.id == "mini"


def test_empty_file():
    assert problems("") == ["the file is empty; expected the sections program:, organizer:, people:, teams: ..."]
    assert problems("# only a comment\n") == problems("")


def test_top_level_must_be_a_mapping():
    assert problems("just text") == [
        "expected a mapping with the sections program:, organizer:, people:, teams: ..., "
        "got the value 'just text' (line 1)"
    ]


def test_yaml_syntax_error_has_its_line():
    text = "program:\n  id: mini\n  name: [unclosed\norganizer: {}\n"
    (only,) = problems(text)
    assert only.startswith("YAML syntax error: ")
    assert only.endswith("(line 4)")


def test_tab_indentation_is_a_syntax_error_with_line():
    (only,) = problems("program:\n\tid: mini\n")
    assert only == (
        "YAML syntax error: while scanning for the next token, "
        "found character '\\t' that cannot start any token (line 2)"
    )


def test_two_documents_are_one_problem():
    (only,) = problems(MINIMAL + "---\nprogram: {}\n")
    assert only.startswith("YAML syntax error: expected a single document in the stream")


def test_every_required_section_is_reported_without_a_line():
    assert problems("store: {url: null}\n") == [
        "program: required key is missing",
        "organizer: required key is missing",
        "people: required key is missing",
        "teams: required key is missing",
    ]


def test_missing_nested_key_points_at_its_entry():
    text = MINIMAL.replace("{id: finn, name: Finn Member, email: finn@mini.example, ", "{id: finn, name: Finn Member, ")
    assert problems(text) == ["people[1].email: required key is missing (line 6)"]


def test_unknown_keys_are_errors_with_their_path():
    text = MINIMAL + "scheduling:\n  buffer: 10m\n  max_per_day: 3\n  colour: red\n"
    assert problems(text) == [
        "scheduling.max_per_day: unknown key (did you mean 'max_individual_per_day'?) (line 13)",
        "scheduling.colour: unknown key "
        "(expected one of: notice, buffer, max_individual_per_day, max_cancellations, make_up_blackouts) (line 14)",
    ]
    assert problems(MINIMAL + "teams_extra: []\n") == ["teams_extra: unknown key (did you mean 'teams'?) (line 11)"]


def test_all_problems_at_once_field_and_reference():
    # A malformed person and a team that names nobody: the reference check still runs.
    text = MINIMAL.replace("finn@mini.example", "finn-at-mini").replace("members: [finn]", "members: [finn, zoe]")
    assert problems(text) == [
        "people[1].email: 'finn-at-mini' is not a valid email address: An email address must have an @-sign. (line 6)",
        "teams[0].members[1]: unknown person 'zoe' (line 10)",
    ]


def test_references_still_checked_when_people_is_malformed():
    text = MINIMAL.replace("people:", "people:\n  - just a string")
    assert problems(text) == [
        "people[0]: expected a mapping of keys to values, got 'just a string' (line 5)",
    ]


def test_base_60_numbers_are_quoted_as_written():
    text = MINIMAL.replace("timezone: Europe/Dublin}", "timezone: Europe/Dublin, hours: 9:30}")
    assert problems(text) == ["people[1].hours: expected working hours like 09:00-17:00, got '9:30' (line 6)"]


def test_yaml_merge_keys_and_overrides():
    text = MINIMAL.replace(
        "people:\n",
        "defaults: &office {timezone: Europe/London, hours: '08:00-16:00'}\npeople:\n",
    ).replace(
        "  - {id: cora, name: Cora Coach, email: cora@mini.example, timezone: Europe/London}",
        "  - {<<: *office, id: cora, name: Cora Coach, email: cora@mini.example, hours: '07:00-15:00'}",
    )
    # Anchors are welcome but `defaults` is not a config key.
    assert problems(text) == ["defaults: unknown key (expected one of: program, organizer, people, sponsors, teams, "
                              "sessions, mail, digest, check_ins, store, daemon, scheduling, templates) (line 4)"]


def test_recursive_alias_is_a_problem_not_a_crash():
    found = problems(MINIMAL + "sponsors_x: &loop [*loop]\n")
    assert "sponsors_x[0]: an alias refers to a value that contains it (line 11)" in found


def test_source_and_relative_paths():
    cfg = load_config_text(MINIMAL, Path("/srv/programs/mini.yaml"))
    assert cfg.source == Path("/srv/programs/mini.yaml")
    assert cfg.base_dir == Path("/srv/programs")
    assert cfg.resolve("calendars/a.ics") == Path("/srv/programs/calendars/a.ics")


def test_busy_urls_are_not_fetched():
    text = MINIMAL.replace(
        "timezone: Europe/Dublin}", "timezone: Europe/Dublin, busy: 'https://calendar.invalid/finn/basic.ics'}"
    )
    assert load_config_text(text, SOURCE).person("finn").busy == "https://calendar.invalid/finn/basic.ics"


def test_digest_goes_to_all_sponsors_unless_told():
    assert load_config_text(MINIMAL, SOURCE).digest.to == ["sam"]
    assert load_config_text(MINIMAL + "digest: {every: 2w}\n", SOURCE).digest.to == ["sam"]
    quiet = load_config_text(MINIMAL + "digest: {to: []}\n", SOURCE)
    assert quiet.digest.to == [] and quiet.digest.every == DigestCadence(weeks=4)


def test_blackout_days():
    text = MINIMAL.replace(
        "ends: 2027-06-30}",
        "ends: 2027-06-30, blackout: [2027-02-01, {from: 2027-03-30, to: 2027-04-02}, "
        "{from: 2027-04-01, to: 2027-04-01}, 2027-02-01]}",
    )
    days = load_config_text(text, SOURCE).program.blackout_days()
    assert days == {date(2027, 2, 1), date(2027, 3, 30), date(2027, 3, 31), date(2027, 4, 1), date(2027, 4, 2)}


def test_lookups():
    text = MINIMAL.replace(
        "teams:\n", "teams:\n  - {id: two, name: Team Two, coach: cora, members: [sam]}\n"
    )
    cfg = load_config_text(text, SOURCE)
    assert [p.id for p in cfg.coaches()] == ["cora"]  # coaches two teams, listed once
    assert [p.id for p in cfg.coachees()] == ["sam", "finn"]
    assert cfg.team_of("finn").id == "one" and cfg.team_of("cora") is None
    assert [t.id for t in cfg.teams_coached_by("cora")] == ["two", "one"]
    assert cfg.team("two").name == "Team Two"
    assert cfg.people_by_id["finn"].name == "Finn Member"
    assert [p.id for p in cfg.sponsor_people()] == ["sam"]
    with pytest.raises(KeyError):
        cfg.person("nobody")
    with pytest.raises(KeyError):
        cfg.team("nobody")


def test_config_is_read_only_and_copies_recompute_lookups():
    cfg = load_config_text(MINIMAL, SOURCE)
    with pytest.raises(ValidationError):
        cfg.program.name = "changed"  # type: ignore[misc]
    assert [p.id for p in cfg.coachees()] == ["finn"]
    team = cfg.teams[0].model_copy(update={"members": ["sam"]})
    changed = cfg.model_copy(update={"teams": [team]})
    assert [p.id for p in changed.coachees()] == ["sam"]
    assert changed.team_of("finn") is None
    assert changed.source == cfg.source


def test_provider_settings():
    text = MINIMAL.replace(
        "organizer: {name: Office, email: office@mini.example}",
        "organizer:\n  name: Office\n  email: office@mini.example\n"
        "  send: {provider: smtp, host: smtp.mini.example, tls: implicit, password_env: SMTP_PASSWORD}\n"
        "  receive: {provider: imap, host: imap.mini.example, port: 1143, folder: Coaching}",
    )
    organizer = load_config_text(text, SOURCE).organizer
    assert (organizer.send.host, organizer.send.effective_port) == ("smtp.mini.example", 465)
    assert (organizer.receive.effective_port, organizer.receive.folder) == (1143, "Coaching")
    assert organizer.calendar.provider == "local"


def test_json_schema_documents_every_field():
    schema = ProgramConfig.json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"program", "organizer", "people", "teams"}
    models = [schema, *schema["$defs"].values()]
    for model in models:
        if model.get("type") != "object":
            continue
        assert model.get("additionalProperties") is False, model.get("title")
        for name, prop in model["properties"].items():
            assert prop.get("description"), f"{model.get('title')}.{name} has no description"
    person = schema["$defs"]["Person"]["properties"]
    assert person["hours"]["default"] == "09:00-17:00"
    assert person["days"]["default"] == "mon-fri"
    group = schema["$defs"]["Sessions"]["properties"]["group"]["default"]
    assert group == {"every": "1w", "length": "1h"}
    assert set(schema["$defs"]["BlackoutRange"]["properties"]) == {"from", "to"}
    organizer = schema["$defs"]["Organizer"]["properties"]
    branches = [schema["$defs"][ref["$ref"].rsplit("/", 1)[1]] for ref in organizer["calendar"]["oneOf"]]
    assert [b["properties"]["provider"]["const"] for b in branches] == ["local", "google", "outlook"]


MICROSOFT_OPTIONS = {"tenant", "client_id", "secret_env", "certificate", "mailbox", "authority", "graph_url"}


def test_json_schema_gives_each_provider_its_own_options():
    schema = ProgramConfig.json_schema()
    organizer = schema["$defs"]["Organizer"]["properties"]

    def options(role: str) -> dict[str, set[str]]:
        branches = organizer[role].get("oneOf") or organizer[role]["anyOf"][0]["oneOf"]
        sections = [schema["$defs"][ref["$ref"].rsplit("/", 1)[1]] for ref in branches]
        return {s["properties"]["provider"]["const"]: set(s["properties"]) - {"provider"} for s in sections}

    assert options("send") == {"file": set(), "smtp": {"host", "port", "username", "password_env", "tls", "sent_folder"},
                               "gmail": {"api_root", "auth", "read_sent"}, "outlook": MICROSOFT_OPTIONS}
    assert options("calendar")["outlook"] == MICROSOFT_OPTIONS | {"calendar_id"}
    assert options("calendar")["google"] == {"calendar_id", "api_root", "auth", "outside_guests", "workspace_domains"}
    assert options("receive")["imap"] >= {"host", "folder", "processed_folder", "ca_file"}
    assert set(options("busy")) == {"google", "outlook"}
    assert organizer["busy"]["default"] is None


def test_control_characters_are_a_syntax_error_with_line():
    found = problems("program:\n  name: a\x07b\n")
    assert found == ["YAML syntax error: the character #x0007 is not allowed in YAML (line 2)"]


def test_a_bad_sponsor_id_is_reported_once():
    text = MINIMAL.replace("sponsors: [sam]", "sponsors: [Sam]")
    assert problems(text) == [
        "sponsors[0]: expected a lowercase id of letters a-z, digits, '-' and '_' (like 'maria' or 'emea-2'), "
        "got 'Sam' (line 8)"
    ]


def test_unreadable_busy_file_names_the_file(monkeypatch, tmp_path):
    from coachd.config.checks import busy_problem

    (tmp_path / "locked.ics").write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert busy_problem("locked.ics", tmp_path) == "cannot read locked.ics: Permission denied"


def test_busy_file_with_a_broken_event_names_the_property(tmp_path):
    from coachd.config.checks import busy_problem

    (tmp_path / "odd.ics").write_bytes(
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:not-a-date\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    # icalendar's own wording varies by version; the file, component and property are ours.
    assert busy_problem("odd.ics", tmp_path).startswith("odd.ics is not a valid iCalendar file: VEVENT DTSTART: ")
    (tmp_path / "empty.ics").write_bytes(b"")
    assert busy_problem("empty.ics", tmp_path).startswith("empty.ics is not a valid iCalendar file: ")
