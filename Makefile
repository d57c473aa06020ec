# ecodec: energy communities and microgrids in Pyomo.
# `make help` lists the targets. Installing on non-Debian systems: docs/install.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        ?= .venv
PYTEST_ARGS ?=
# test processes (pytest-xdist): one per core by default; TEST_WORKERS=0 runs everything in this process
TEST_WORKERS ?= auto
PIP_ARGS    ?=

VENV_PY       := $(VENV)/bin/python
SYSTEM_STAMP  := $(VENV)/.ecodec-system.stamp
INSTALL_STAMP := $(VENV)/.ecodec-install.stamp

# Stop early, with a clear message, if $(PYTHON) is missing or older than 3.10.
define check_python
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: '$(PYTHON)' not found. ecodec needs Python >= 3.10: run e.g. 'make PYTHON=python3.11 ...' (see docs/install.md)." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
	  echo "error: ecodec needs Python >= 3.10, but '$(PYTHON)' is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'). Run e.g. 'make PYTHON=python3.11 ...' (see docs/install.md)." >&2; exit 1; }
endef

.PHONY: help setup system demo test check bench cases clean

help:
	@echo "ecodec make targets:"
	@echo "  make demo    set up, then compare centralized, primal decomposition and Tracking-ADMM on cases/microgrid_8.xlsx:"
	@echo "               results in results/microgrid_8/, the PDF report in reports/microgrid_8.pdf"
	@echo "  make test    set up, then run the tests (extra pytest options: PYTEST_ARGS='-k foo -x')"
	@echo "  make check   set up, then run the quick tests only: not those marked slow or mpi (make test runs all)"
	@echo "  make bench   set up, then run benchmarks/run.py (if it exists)"
	@echo "  make cases   set up, then rebuild cases/*.xlsx from data/"
	@echo "  make setup   system packages (Debian/Ubuntu) + virtualenv $(VENV) + pip install -e '.[dev,mpi,learning,analysis]'"
	@echo "  make system  only check/install the system packages (scripts/setup_system.sh)"
	@echo "  make clean   remove $(VENV) and caches (keeps cases/, data/, results/, reports/)"
	@echo "Variables: PYTHON=$(PYTHON) VENV=$(VENV) PYTEST_ARGS= PIP_ARGS= TEST_WORKERS=$(TEST_WORKERS)"
	@echo "Other systems (Fedora, macOS, conda, manual): docs/install.md"

# --- setup: 1) system packages, 2) virtualenv, 3) pip install ---------------

setup: $(INSTALL_STAMP)

system:
	PYTHON='$(PYTHON)' bash scripts/setup_system.sh

$(SYSTEM_STAMP): scripts/setup_system.sh
	$(check_python)
	PYTHON='$(PYTHON)' bash scripts/setup_system.sh
	@mkdir -p $(VENV)
	@touch $@

$(VENV_PY): | $(SYSTEM_STAMP)
	$(check_python)
	$(PYTHON) -m venv $(VENV)

# Re-run pip only when pyproject.toml changed (or the venv is new).
$(INSTALL_STAMP): pyproject.toml | $(SYSTEM_STAMP) $(VENV_PY)
	$(VENV_PY) -m pip install $(PIP_ARGS) -e '.[dev,mpi,learning,analysis]'
	@touch $@

# --- targets ------------------------------------------------------------------

demo: setup
	$(VENV)/bin/ecodec compare cases/microgrid_8.xlsx --methods centralized,primal-decomposition,tracking-admm \
	  --output results/microgrid_8 --report reports/microgrid_8.pdf

test: setup
	$(VENV_PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

check: setup
	$(VENV_PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow and not mpi" $(PYTEST_ARGS)

bench: $(if $(wildcard benchmarks/run.py),setup)
	@if [[ -f benchmarks/run.py ]]; then \
	  echo "$(VENV_PY) benchmarks/run.py"; $(VENV_PY) benchmarks/run.py; \
	else \
	  echo "No benchmarks yet (benchmarks/run.py does not exist)."; \
	fi

cases: setup
	$(VENV_PY) scripts/build_cases.py
	$(VENV_PY) scripts/build_cooling_cases.py

clean:
	rm -rf $(VENV) .pytest_cache build
	find . -path ./.git -prune -o \( -name '*.egg-info' -o -name __pycache__ \) -type d -prune -exec rm -rf {} +
	rm -f .ecodec-*.stamp
