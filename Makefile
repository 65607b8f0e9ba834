# Everything a fresh machine needs: `make run` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/example.yaml
STATE ?= var

.PHONY: run test check plan simulate status bench clean

# Reinstall whenever pyproject.toml changes; the stamp records that the install finished.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/coachd run $(CONFIG) --state $(STATE)

test: $(VENV)/.installed
	$(BIN)/pytest

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
