# The two set-up commands of the README. Both work on a fresh machine that has only Python 3.12
# (`.python-version` makes pyenv's python3 resolve to it).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/bayesvol run

# the full suite on two workers (pytest-xdist), printing the slowest tests: 785 tests in 27 min on 2 quiet cores
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --durations=25

# The inner loop: the tests not marked slow, on 2 workers, with JAX's persistent compilation cache in
# .jax-cache (measured on 2 cores: 3–4 min cold, 1.0 min warm). `make test` (CI) runs uncached.
test-fast: $(VENV)/.installed
	$(BIN)/ruff check .
	JAX_COMPILATION_CACHE_DIR=$(CURDIR)/.jax-cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
	JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=-1 \
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" -n 2

bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) bayesvol-out
