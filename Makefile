# Two commands for a newcomer: `make demo` and `make test`. Both install on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install test demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	OMP_NUM_THREADS=2 $(PY) -m pytest -q $(PYTEST_ARGS)

demo: install
	$(PY) scripts/demo.py --output-dir demo_out

clean:
	rm -rf $(VENV) demo_out .pytest_cache
