# Two commands for a newcomer: `make demo` and `make test`. Both install on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install test demo bench bench-gpu clean

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

# one JSON line of side-by-side ratios each (README, Performance); about 12 minutes on 2 CPU cores
bench: install
	$(PY) scripts/bench_adapters.py
	$(PY) scripts/bench_generate.py
	$(PY) scripts/bench_train.py

# LLaMA-2-7B shape in bf16 on a GPU: training step time and MFU, generation speed
bench-gpu: install
	$(PY) scripts/bench_gpu.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
