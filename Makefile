# ganforge: `make demo` trains the demo GAN on a fresh machine, `make test` runs the test suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_MINUTES ?= 10
DEMO_OUT ?= runs/demo

.PHONY: setup demo test lint bench clean

$(BIN)/ganforge: pyproject.toml
	@test -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || \
	  { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; } || \
	  echo "note: could not install dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
	@command -v espeak-ng >/dev/null && command -v flite >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq espeak-ng flite; } || \
	  echo "note: could not install espeak-ng and flite (the spoken-digits built-in needs them)"
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[all,dev]"
	@touch $@

setup: $(BIN)/ganforge

demo: setup
	$(BIN)/python -m ganforge.cli.demo --minutes $(DEMO_MINUTES) --out $(DEMO_OUT)

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile tests

lint: setup
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
