# handseg: `make demo` and `make test` each create .venv if missing, install the project, and run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HANDSEG := $(VENV)/bin/handseg
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# the real frames the shipped model is shown on, when this checkout sits beside them
REAL ?= $(wildcard ../shared/realdata/dexycb)

demo: $(STAMP)
	$(HANDSEG) demo --out demo --force $(if $(REAL),--real $(REAL))

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -n $(PYTEST_WORKERS) --timeout 600 tests

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
