# cxr-sql: every target installs what it needs into .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo
DEMO_SCALE ?= small

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: synthesise MIMIC-shaped sources on the real MIMIC-IV demo timeline
demo: $(STAMP)
	$(BIN)/cxr-sql synth --out $(DEMO_DIR)/sources --scale $(DEMO_SCALE) --force \
		--mimiciv-demo cxr_sql/data/mimic-iv-demo-2.2

## test: lint, then the whole test suite
test: lint
	$(BIN)/pytest -q

## lint: ruff lint and format check
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .ruff_cache
