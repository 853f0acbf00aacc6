# Two commands matter: `make run` and `make test`. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= $(if $(DISPLAY),,offscreen)

.PHONY: run test lint types layers unit bench bundle venv clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/annotator --demo

lint: $(STAMP)
	$(BIN)/ruff check annotator tests migrations packaging
	$(BIN)/ruff format --check annotator tests migrations packaging

types: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

test: lint types layers unit

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -s -m benchmark tests/benchmarks -p no:cacheprovider -o addopts=""

# A one-folder frozen app in dist/ plus its archive; builds, checks and smoke-tests it.
bundle: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[packaging]'
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/build_bundle.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
