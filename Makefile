PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-full bench microbench clean

install: $(STAMP)

# Quiet: pip's and the build backend's output goes to $(VENV)/install.log, shown only
# if the install fails.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing pevmsim and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	@( $(BIN)/python -m pip install --upgrade pip \
	   && $(BIN)/python -m pip install -e '.[test]' ) > $(VENV)/install.log 2>&1 \
	   || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

# every core (pytest-xdist); a worker steals tests from a busy one, so the heavy oracle
# files do not serialize the run
PYTEST := $(BIN)/python -m pytest -n auto --dist worksteal

test: install
	$(PYTEST)

# every combination of the heaviest oracle matrices (make test runs a lighter form: tests/forms.py)
test-full: install
	PEVMSIM_FULL_ORACLES=1 $(PYTEST)

# the default suite on a Dask LocalCluster of a worker process per core (--jobs default)
bench: install
	$(BIN)/pevmsim sweep bench/suites/default.toml --out reports/default --resume
	$(BIN)/pevmsim report reports/default --readme README.md

microbench: install
	$(BIN)/python -m pytest bench/ -o python_files='bench_*.py' --benchmark-autosave

clean:
	rm -rf $(VENV) .pevmsim-cache
