"""SQL only in the store: no module outside coachd/store/ imports SQLAlchemy, Alembic or the ORM models.

The rest of coachd calls the store's repositories (store/*_repo.py), which take the caller's
session and return plain values or rows; a module that could build a query of its own fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "daemon" / "coachd"
STORE = PACKAGE / "store"
# The libraries that speak SQL, and the store's ORM models (with them, `db.get(Model, ...)` and
# `db.add(Model(...))` build queries without importing SQLAlchemy).
SQL_LIBRARIES = ("sqlalchemy", "alembic")
MODELS = "coachd.store.models"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _model_names() -> set[str]:
    """The ORM classes models.py declares: importing one from `coachd.store` is importing the models."""
    tree = ast.parse((STORE / "models.py").read_text())
    return {node.name for node in tree.body if isinstance(node, ast.ClassDef)}


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _speaks_sql(name: str) -> bool:
    return name.split(".")[0] in SQL_LIBRARIES or name == MODELS or name.startswith(MODELS + ".")


def sql_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """What the code of `module` imports that only the store may: 'line: import' for each."""
    models = _model_names()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _speaks_sql(a.name)]
        elif isinstance(node, ast.ImportFrom):
            origin = _absolute(node, module, is_package)
            names = {a.name for a in node.names}
            if _speaks_sql(origin) or (origin == "coachd.store" and names & (models | {"models"})):
                found.append(f"{node.lineno}: from {origin} import {', '.join(sorted(names))}")
    return found


def outside_store() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if STORE not in p.parents)


def test_the_walk_sees_the_whole_package() -> None:
    modules = {_module_name(p) for p in outside_store()}
    assert {"coachd.execute.executor", "coachd.observe.observer", "coachd.cli.replies"} <= modules
    assert not any(m.startswith("coachd.store") for m in modules)


@pytest.mark.parametrize("path", outside_store(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_sql_outside_the_store(path: Path) -> None:
    found = sql_imports(path.read_text(), _module_name(path), path.name == "__init__.py")
    assert not found, f"{path.relative_to(PACKAGE.parent)} speaks SQL itself; use a repository in coachd/store/: {found}"


# A session's or engine's own ways in: without an import, a module handed a session could still run
# text SQL or a statement built elsewhere. (`flush` and `scalar` have other meanings outside the store.)
SESSION_CALLS = frozenset({"execute", "scalars", "exec_driver_sql", "add_all"})


def session_uses(source: str) -> list[str]:
    """'line: .name' for each statement run on a session, and each use of a store's engine."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SESSION_CALLS:
            if node.func.attr == "execute" and any(k.arg == "num_retries" for k in node.keywords):
                continue  # a Google API request's execute (providers/google/client.py), not a session's
            found.append(f"{node.lineno}: .{node.func.attr}()")
        elif isinstance(node, ast.Attribute) and node.attr == "engine":
            found.append(f"{node.lineno}: .engine")
    return found


@pytest.mark.parametrize("path", outside_store(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_statements_run_outside_the_store(path: Path) -> None:
    found = session_uses(path.read_text())
    assert not found, f"{path.relative_to(PACKAGE.parent)} runs statements itself; use a repository: {found}"


def test_a_google_request_is_not_a_statement() -> None:
    assert session_uses("request.execute(num_retries=0)") == []


@pytest.mark.parametrize("source", ["db.execute(query)", "db.scalars(query).all()", "program.store.engine.connect()",
                                    "db.add_all(rows)"])
def test_each_statement_outside_a_repository_is_caught(source: str) -> None:
    assert session_uses(source)


# As if written in coachd/execute/executor.py, so relative imports resolve as they would there.
EXAMPLE = "coachd.execute.executor"


@pytest.mark.parametrize("source", [
    "from sqlalchemy import select",
    "import sqlalchemy.orm",
    "from sqlalchemy.exc import IntegrityError",
    "from alembic import command",
    "import coachd.store.models",
    "from coachd.store.models import Reply",
    "from coachd.store import Series, Store",
    "from coachd.store import models",
    "from ..store.models import Meta",
    "from ..store import Outbox",
    "def later():\n    from sqlalchemy import select",
])
def test_each_way_of_reaching_sql_is_caught(source: str) -> None:
    assert sql_imports(source, EXAMPLE)


@pytest.mark.parametrize("source", [
    "from coachd.store import Store, outbox_repo",
    "from coachd.store.db import Store, StoreError",
    "from ..store import series_repo",
    "from coachd.store.outbox_repo import KeyTaken",
])
def test_repositories_and_the_store_handle_are_allowed(source: str) -> None:
    assert not sql_imports(source, EXAMPLE)
