# Two commands on a fresh machine: `make train` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
# Test workers (pytest-xdist): one per core by default; JOBS=0 runs the tests in one process.
JOBS   ?= auto
# Unit tests and notebooks share the workers, longest unit first (tests/schedule.py); nbval runs each notebook
# once in fast mode (its kernel gets GAN_HELPERS_FAST=1) with the mutation trials (tests/nbval_mutations.py).
PYTEST_ARGS = -n $(JOBS) --dist loadscope -p tests.schedule -p tests.nbval_mutations --nbval-lax \
              --nbval-current-env --nbval-cell-timeout=900

.PHONY: help install train test lint unit notebooks lab bench test-min student sync test-seeds notebooks-full notebooks-fast clean book book-test

help:
	@echo "make train   train the main job (the DCGAN, self-conditioned on clusters), write runs/dcgan/{samples.png,progress.gif,losses.png,generator.keras,metrics.json}"
	@echo "make test    ruff + unit tests + every notebook under nbval in fast mode, with its mutation checks"
	@echo "make test-seeds  the notebooks in fast mode with seeds 1 and 2 (SEEDS=...), not only 42"
	@echo "make lab     JupyterLab on notebooks/"
	@echo "make bench   speed benchmarks (ratios against a baseline in the same process)"
	@echo "make student student copies in student/ (solutions replaced by stubs, outputs cleared)"
	@echo "make sync    rewrite the notebooks' set-up and navigation cells and the README index"
	@echo "make notebooks-full  execute every notebook in full mode in place and record its run time"
	@echo "make book    the notebooks (stored outputs, not re-run) and the README as a static site in build/book/html"
	@echo "make book-test  build the site and open every page in headless Chromium (screenshots in build/book/screenshots)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; run with PYTHON=python3.X")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(PY) -m gan_helpers train $(ARGS)

test: $(STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS) --durations=25 tests notebooks/

lint: $(STAMP)
	$(VENV)/bin/ruff check gan_helpers tests scripts benchmarks notebooks book

unit: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) --durations=15 tests

notebooks: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) notebooks/

# Fast mode with other seeds: no check of a training outcome may rest on seed 42's luck.
SEEDS ?= 1 2
test-seeds: $(STAMP)
	for s in $(SEEDS); do echo "== GAN_HELPERS_SEED=$$s"; GAN_HELPERS_SEED=$$s $(MAKE) --no-print-directory notebooks || exit 1; done

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# The oldest versions pyproject.toml allows (.ci/constraints-min.txt), in their own venv: unit tests only.
test-min:
	test -x .venv-min/bin/python || $(PYTHON) -m venv .venv-min
	.venv-min/bin/python -m pip install --quiet -c .ci/constraints-min.txt -e ".[dev]"
	.venv-min/bin/python -m pip list 2>/dev/null | grep -iE "^(tensorflow|keras|numpy|scipy|matplotlib|pillow) "
	.venv-min/bin/python -m pytest -n $(JOBS) --dist loadscope -p tests.schedule tests

student: $(STAMP)
	$(PY) scripts/notebooks.py student

sync: $(STAMP)
	$(PY) scripts/notebooks.py sync

notebooks-full: $(STAMP)
	$(PY) scripts/notebooks.py run --mode full $(NB)

notebooks-fast: $(STAMP)
	$(PY) scripts/notebooks.py run --mode fast $(NB)

# The course site: Sphinx + MyST-NB from the committed outputs (book/conf.py, scripts/book.py), offline.
book: $(STAMP)
	$(PY) scripts/book.py

# `make unit` runs it too, and skips it (saying why) without a Chromium: apt-get install chromium.
book-test: $(STAMP)
	$(PY) -m pytest -p no:randomly -s tests/test_book.py

bench: $(STAMP)
	$(PY) benchmarks/bench_train_step.py

clean:
	rm -rf runs notebooks/runs student .pytest_cache build/book
