# cxr-sql: every target installs what it needs into .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo
DEMO_SCALE ?= small
# The MIMIC-IV demo whose timeline the studies are placed on: the 4 tables bundled, or the
# whole open demo (physionet.org/content/mimic-iv-demo/2.2), which mimic-code's concepts need.
DEMO_MIMICIV ?= cxr_sql/data/mimic-iv-demo-2.2

.PHONY: demo build test lint format bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## demo: synthesise sources on the real MIMIC-IV demo timeline, build, query
demo: $(STAMP)
	$(BIN)/cxr-sql synth --out $(DEMO_DIR)/sources --scale $(DEMO_SCALE) --force \
		--mimiciv-demo $(DEMO_MIMICIV)
	$(BIN)/cxr-sql build --warehouse $(DEMO_DIR)/warehouse --mimic-cxr $(DEMO_DIR)/sources/mimic-cxr \
		--mimic-cxr-jpg $(DEMO_DIR)/sources/mimic-cxr-jpg --mimiciv $(DEMO_DIR)/sources/mimiciv --all
	$(BIN)/cxr-sql query --warehouse $(DEMO_DIR)/warehouse \
		"SELECT section, count(*) AS sections, count(DISTINCT study_id) AS reports \
		 FROM mimic_cxr.report_sections GROUP BY ALL ORDER BY sections DESC LIMIT 10"
	$(BIN)/cxr-sql query --warehouse $(DEMO_DIR)/warehouse \
		"SELECT s.study_id, r.has_addendum, left(s.conclusion, 70) AS conclusion \
		 FROM mimic_cxr.sectioned s JOIN mimic_cxr.reports r USING (study_id) \
		 ORDER BY r.has_addendum DESC, s.study_id LIMIT 5"
	$(BIN)/cxr-sql query --warehouse $(DEMO_DIR)/warehouse \
		"SELECT a.rule, count(*) AS studies, count(*) FILTER (WHERE a.n_candidates > 1) AS ambiguous, \
		        count(e.stay_id) AS in_ed_stay, count(i.stay_id) AS in_icu_stay \
		 FROM mimic_cxr_derived.study_admission a \
		 JOIN mimic_cxr_derived.study_edstay e USING (study_id) \
		 JOIN mimic_cxr_derived.study_icustay i USING (study_id) GROUP BY ALL ORDER BY studies DESC"
	$(BIN)/cxr-sql check --warehouse $(DEMO_DIR)/warehouse
	@if [ -n "$$MIMIC_CODE_DIR" ]; then \
		$(BIN)/cxr-sql query --warehouse $(DEMO_DIR)/warehouse \
			"SELECT status, count(*) AS concepts, coalesce(any_value(cause), '') AS for_example \
			 FROM mimiciv_derived._concepts GROUP BY ALL ORDER BY concepts DESC"; \
	else \
		echo "mimiciv_derived (mimic-code's concepts) was not built: MIMIC_CODE_DIR is not set."; \
		echo "  git clone https://github.com/MIT-LCP/mimic-code /src/mimic-code"; \
		echo "  make demo MIMIC_CODE_DIR=/src/mimic-code DEMO_MIMICIV=/path/to/mimic-iv-demo-2.2"; \
	fi

## build: bring the warehouse up to date (settings: cxr-sql.toml, MIMIC_*_DIR, BUILD_FLAGS)
build: $(STAMP)
	$(BIN)/cxr-sql build $(BUILD_FLAGS)

## test: lint, then the whole test suite
test: lint
	$(BIN)/pytest -q

BENCH_WORK ?= bench
BENCH_OUT ?= bench/results-quick.json

## bench: full-scale figures against baselines, into bench/results.json (under 15 min)
bench: $(STAMP)
	$(BIN)/python bench/run.py --scale full

## bench-quick: the same steps on small sources, once each (under 2 min; a smoke run)
bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --scale small --repeats 1 --work $(BENCH_WORK) --out $(BENCH_OUT)

## lint: ruff lint and format check
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .ruff_cache
