"""What an admin installs: the wheel with its templates and migrations, and the systemd unit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """`pip install .` into a fresh prefix; dependencies come from the test environment."""
    prefix = tmp_path_factory.mktemp("prefix")
    # --ignore-installed: without it pip first uninstalls the checkout's own editable install from the
    # test environment, and `.venv/bin/coachd` is gone after `make test`.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--ignore-installed", "--prefix", str(prefix), str(ROOT)], check=True, cwd=prefix)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path[1:]])}
    env.pop("PYTHONHOME", None)
    return prefix, env


def test_installing_the_wheel_leaves_the_development_install_alone(installed):
    # `pip install --prefix` without --ignore-installed uninstalls the test environment's own coachd
    # first: its command is gone and `make run` fails after `make test`.
    assert (Path(sys.executable).parent / "coachd").exists(), "the environment's coachd command is still there"


def test_installed_coachd_checks_and_simulates_outside_the_source_tree(installed, tmp_path):
    prefix, env = installed
    coachd = prefix / "bin" / "coachd"
    assert coachd.exists()
    config = tmp_path / "program"
    shutil.copytree(ROOT / "config", config)
    result = subprocess.run([str(coachd), "check", str(config / "example.yaml")], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    probe = subprocess.run([sys.executable, "-c", "import coachd, coachd.mail as m; print(coachd.__file__); "
                            "print(m.builtin_templates_dir())"], cwd=tmp_path, env=env, capture_output=True, text=True)
    module_file, templates = probe.stdout.split()
    assert module_file.startswith(str(prefix)), "the installed copy is used, not the checkout"
    assert templates.startswith(str(prefix)) and (Path(templates) / "agenda" / "body.html").exists()
    result = subprocess.run([str(coachd), "simulate", str(config / "example.yaml"), "--until", "2027-01-11",
                             "--out", str(tmp_path / "sim")], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "sim" / "mail").glob("*.eml"))


def test_the_import_package_is_coachd_and_leaves_python_daemon_alone(installed):
    # `daemon` is python-daemon's import name (PEP 3143): installing coachd beside it must not replace it.
    prefix, _ = installed
    site = Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))
    top_level = {path.name for path in site.iterdir() if path.is_dir() and not path.name.endswith(".dist-info")}
    assert "coachd" in top_level
    assert "daemon" not in top_level


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_verifies_and_is_hardened(tmp_path):
    unit = (ROOT / "systemd" / "coachd.service").read_text()
    for directive in ("DynamicUser=yes", "StateDirectory=coachd", "ProtectSystem=strict", "NoNewPrivileges=yes",
                      "PrivateTmp=yes", "KillSignal=SIGTERM"):
        assert directive in unit
    local = tmp_path / "coachd.service"
    local.write_text(unit.replace("/opt/coachd/.venv/bin/coachd", shutil.which("true") or "/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "coachd.service" not in result.stderr, result.stderr
