# Quick start on a fresh machine:  make demo   |   make test
# Both first install what is missing into .venv (scripts/install.sh; idempotent).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: install demo test

install:
	@bash scripts/install.sh

demo: install
	$(PYTHON) tools/demo.py $(DEMO_ARGS)

# One OpenMP thread per process: the tests' tiny models gain nothing from a second
# thread, and threads spinning against the dataloader or a tool subprocess cost 10x.
# Instead, PYTEST_WORKERS test processes (pytest-xdist), one per core on the 2-core CI
# machine; --dist loadfile keeps a test file's module fixtures in one process, and
# --no-loadscope-reorder hands out the files in collection order, where
# tests/conftest.py puts the slowest first (xdist's own order, most tests first, left
# a long file for last).
PYTEST_WORKERS ?= 2
test: install
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest tests -n $(PYTEST_WORKERS) --dist loadfile \
		--no-loadscope-reorder $(PYTEST_ARGS)
