# Set-up and the two everyday jobs. `make run` and `make test` each create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: run test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@ $(VENV)/.installed

# The main job on the embedded, offline default.
run: $(VENV)/.installed
	$(BIN)/gasr build --config examples/configs/offline.yaml

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check gasr_hf tests benchmarks examples
	$(BIN)/ruff format --check gasr_hf tests benchmarks examples

format: $(VENV)/.installed-test
	$(BIN)/ruff format gasr_hf tests benchmarks examples

clean:
	rm -rf out .pytest_cache
