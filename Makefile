# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv if it is missing and installs nbtune with its test extras.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench bench-early-stopping install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m nbtune.demo

test: $(STAMP)
	$(PY) -m nbtune.demo
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/live_overhead.py

# ASHA against random search on the task of ../shared/PEERS.md (about 12 minutes)
bench-early-stopping: $(STAMP)
	$(PY) benchmarks/early_stopping.py

clean:
	rm -rf $(VENV) build *.egg-info nbtune.db nbtune.db-wal nbtune.db-shm
