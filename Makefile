# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv if it is missing and installs nbtune with its test extras.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The browser tests drive Debian's chromium (never a browser download): `make test` installs it.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-lowest bench bench-early-stopping install browser clean tables bench-sim \
	peers-env test-peers test-torch test-boosters

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# An editable install leaves out the wheel's data files: `labextension develop` links the JupyterLab
# extension of this checkout (nbtune/labextension, rebuilt by `make labextension`) into the venv
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/jupyter labextension develop --overwrite . > /dev/null
	touch $(STAMP)

install: $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

browser: $(CHROMIUM)

demo: $(STAMP)
	$(PY) -m nbtune.demo

# Two pytest processes (pytest-xdist, a file each at a time, the slowest files first: see
# tests/conftest.py): most tests wait on workers, kernels and a browser, and one process left a
# core idle half the time. The tests marked `cores` need both cores to themselves, and those
# marked `alone` failed now and then beside the other process: they run after the others, alone.
test: $(STAMP) $(CHROMIUM)
	$(PY) -m nbtune.demo
	NBTUNE_REQUIRE_BROWSER=1 $(PY) -m pytest -q -n 2 --dist loadfile -m "not cores and not alone" \
		--durations=15 --junitxml=build/test-times.xml
	$(PY) -m pytest -q -m "cores or alone" --junitxml=build/test-times-alone.xml

# The suite on the oldest versions pyproject.toml allows (.ci/lowest.txt)
LOWEST := .venv-lowest
test-lowest: .ci/lowest.txt pyproject.toml
	[ -x $(LOWEST)/bin/python ] || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet -c .ci/lowest.txt -e '.[test]' $$(grep -v '^#' .ci/lowest.txt)
	$(LOWEST)/bin/python -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/live_overhead.py
	$(PY) benchmarks/first_cell.py
	$(PY) benchmarks/first_cell.py --sklearn
	$(PY) benchmarks/scale.py
	$(PY) benchmarks/early_stopping.py --budget 40 --seeds 0 --methods random,asha,asha-promotion
	$(PY) benchmarks/early_stopping.py --task sgd-mlp-small --budget 40 --seeds 0 --methods random,asha,asha-promotion
	$(PY) benchmarks/early_stopping.py --task digits-mlp --budget 40 --seeds 0 --methods random,asha,asha-promotion

# ASHA against random search on the sgd-mlp task of benchmarks/tasks.py (about 12 minutes)
bench-early-stopping: $(STAMP)
	$(PY) benchmarks/early_stopping.py

# What a bayesopt suggestion costs against the observations it models
.PHONY: bench-bayesopt
bench-bayesopt: $(STAMP)
	$(PY) benchmarks/bayesopt_cost.py

# bayesopt's suggestions on the loop's thread against a thread of their own, in real studies
.PHONY: bench-thinking
bench-thinking: $(STAMP)
	$(PY) benchmarks/thinking.py $(ARGS)

# SearchCV with ASHA against RandomizedSearchCV and HalvingRandomSearchCV (about 10 minutes a
# seed); bench-searchcv-peers adds Optuna's OptunaSearchCV
.PHONY: bench-searchcv
bench-searchcv: $(STAMP)
	$(PY) benchmarks/searchcv.py $(ARGS)

# The learning-curve tables of nbtune/data/ from real training (niced, one process; resumable)
tables: $(STAMP)
	nice -n 19 $(PY) benchmarks/make_tables.py

# Searchers and schedulers compared in simulated time on every table (a few minutes)
bench-sim: $(STAMP)
	nice -n 19 $(PY) benchmarks/simulated.py

# PASHA against ASHA's promotion type, in simulated time (about a minute)
.PHONY: bench-pasha
bench-pasha: $(STAMP)
	nice -n 19 $(PY) benchmarks/pasha.py $(ARGS)

# bayesopt (FIFO and ASHA) and kde+asha against random search, in simulated time
.PHONY: bench-sim-models
bench-sim-models: $(STAMP)
	nice -n 19 $(PY) benchmarks/simulated.py --models --workers 2,8,32 --seeds 20 \
		--methods "random (fifo),asha stopping,kde+asha,bayesopt (fifo),bayesopt+asha" \
		--figures benchmarks/figures/models

# The JupyterLab extension that lets the space editor's Apply write its cell. Its built files
# (nbtune/labextension/) are committed, so nothing else needs Node.js; this rebuilds them from
# labextension/src with node and the jlpm of the installed JupyterLab.
JLPM     := $(VENV)/bin/jlpm
LAB_CORE  = $(shell $(VENV)/bin/python -c "import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), 'staging'))")
.PHONY: labextension
labextension:
	@[ -x $(JLPM) ] || { echo "no $(JLPM): run make install first"; exit 1; }
	cd labextension && PATH=$(abspath $(VENV))/bin:$$PATH $(abspath $(JLPM)) install && $(abspath $(JLPM)) build:lib
	rm -rf nbtune/labextension
	cd labextension && node node_modules/@jupyterlab/builder/lib/build-labextension.js \
		--core-path $(LAB_CORE) .

# Other tuners beside nbtune (Optuna, whose samplers run as nbtune searchers, and Syne Tune):
# a venv of their own, never .venv
PEERS := .venv-peers
$(PEERS)/.installed: pyproject.toml Makefile
	[ -x $(PEERS)/bin/python ] || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet -e . 'pytest>=7.4' 'pytest-timeout>=2.2' optuna \
		'optuna-integration[sklearn]' syne-tune
	touch $@

peers-env: $(PEERS)/.installed

test-peers: peers-env
	$(PEERS)/bin/python -m pytest -q tests/test_optuna_adapter.py

# PyTorch for the tests that need it (a trial's torch.set_num_threads put back, tensors kept on
# the workers, the README's Keras and Lightning recipes; skipped in .venv, which has no torch):
# a venv of its own. torch==2.13.0 is pinned
# because pip takes the CPU build from a local wheel where the machine has one; elsewhere on
# x86_64 Linux, PyPI's torch is a CUDA build of several GB
TORCHENV := .venv-torch
$(TORCHENV)/.installed: pyproject.toml Makefile
	[ -x $(TORCHENV)/bin/python ] || $(PYTHON) -m venv $(TORCHENV)
	$(TORCHENV)/bin/python -m pip install --quiet --upgrade pip
	$(TORCHENV)/bin/python -m pip install --quiet -e '.[test]' 'torch==2.13.0' \
		'lightning>=2.4' 'keras>=3.5'
	touch $@

test-torch: $(TORCHENV)/.installed
	$(TORCHENV)/bin/python -m pytest -q tests/test_torch_threads.py tests/test_sending.py \
		tests/test_frameworks.py

# LightGBM and XGBoost for the tests that need them (the README's booster recipes, SearchCV's
# rounds, a LightGBM trial that takes every core): a venv of their own, as for torch
BOOSTENV := .venv-boosters
$(BOOSTENV)/.installed: pyproject.toml Makefile
	[ -x $(BOOSTENV)/bin/python ] || $(PYTHON) -m venv $(BOOSTENV)
	$(BOOSTENV)/bin/python -m pip install --quiet --upgrade pip
	$(BOOSTENV)/bin/python -m pip install --quiet -e '.[test]' 'lightgbm>=4.0' 'xgboost>=2.0'
	touch $@

test-boosters: $(BOOSTENV)/.installed
	$(BOOSTENV)/bin/python -m pytest -q tests/test_boosters.py tests/test_cores.py

# nbtune beside Optuna and Syne Tune on real tasks (benchmarks/peers.py; 12 methods x 3 tasks x 3
# seeds x 120 s: about 3 h 50 min). ARGS narrows it: make bench-peers ARGS="--budget 30 --seeds 0"
.PHONY: bench-peers
bench-peers: peers-env
	nice -n 19 $(PEERS)/bin/python benchmarks/peers.py $(ARGS)

# SearchCV beside scikit-learn's searches and Optuna's OptunaSearchCV (benchmarks/searchcv.py)
.PHONY: bench-searchcv-peers
bench-searchcv-peers: peers-env
	nice -n 19 $(PEERS)/bin/python benchmarks/searchcv.py $(ARGS)

clean:
	rm -rf $(VENV) $(LOWEST) $(PEERS) $(TORCHENV) build *.egg-info nbtune.db nbtune.db-wal nbtune.db-shm nbtune.db.checkpoints
