# Everything a fresh machine needs: `make run` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/example.yaml
STATE ?= var

# test: every tier (unit, contracts, integration, system). test-fast: unit and contract tests, under 2 minutes.
.PHONY: run test test-fast test-install test-servers check plan simulate status bench clean

# Reinstall whenever pyproject.toml changes; the stamp records that the install finished.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# compat: the source folder daemon/ goes on the path with a .pth file, as plainly as PYTHONPATH would.
	$(BIN)/pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	touch $@

run: $(VENV)/.installed
	$(BIN)/coachd run $(CONFIG) --state $(STATE)

test: $(VENV)/.installed test-servers
	$(BIN)/pytest

test-fast: $(VENV)/.installed test-servers
	$(BIN)/pytest tests/unit tests/contracts

# The IMAP tests run against a real Dovecot, which they start themselves on free loopback ports.
# Installed when this is root with apt (nothing to do when it is there already); otherwise those
# tests are skipped. The package's own service, if it started, is stopped and disabled: it would
# hold ports 143/993 for nothing.
test-servers:
	@command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || { \
	  command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd >/dev/null 2>&1; }; } && \
	  { systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1; \
	    doveadm stop >/dev/null 2>&1; true; }; \
	} || echo "dovecot not installed: the IMAP tests will be skipped (install dovecot-imapd)"

# What an admin does: `pip install .` into a fresh venv (not editable, no test tools), then check and
# simulate the example from outside the source tree.
test-install:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && "$$tmp/venv/bin/pip" install --quiet . && \
	cp -r config "$$tmp/config" && cd "$$tmp" && \
	venv/bin/coachd check config/example.yaml >/dev/null && \
	venv/bin/coachd simulate config/example.yaml --until 2027-01-11 --out sim >/dev/null 2>&1 && \
	ls sim/mail/*.eml >/dev/null && echo "pip install . in a fresh venv: coachd checks and simulates"

check: $(VENV)/.installed
	$(BIN)/coachd check $(CONFIG)

plan: $(VENV)/.installed
	$(BIN)/coachd plan $(CONFIG) --state $(STATE)

simulate: $(VENV)/.installed
	$(BIN)/coachd simulate $(CONFIG) --until 2027-03-29 --out $(STATE)/simulation

status: $(VENV)/.installed
	$(BIN)/coachd status $(CONFIG) --state $(STATE)

bench: $(VENV)/.installed
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(STATE) build *.egg-info .pytest_cache .hypothesis
