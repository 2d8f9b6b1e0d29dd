PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-full bench microbench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

# every combination of the heaviest oracle matrices (make test runs a lighter form: tests/forms.py)
test-full: install
	PEVMSIM_FULL_ORACLES=1 $(BIN)/python -m pytest

# the default suite on a Dask LocalCluster of a worker process per core (--jobs default)
bench: install
	$(BIN)/pevmsim sweep bench/suites/default.toml --out reports/default --resume
	$(BIN)/pevmsim report reports/default --readme README.md

microbench: install
	$(BIN)/python -m pytest bench/ -o python_files='bench_*.py' --benchmark-autosave

clean:
	rm -rf $(VENV) .pevmsim-cache
