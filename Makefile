# Two-command quickstart: `make demo` and `make test`. Each creates .venv if missing and installs nksim into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz bench docs install clean screenshots app app-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/nksim demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

docs: $(STAMP)
	$(BIN)/pip install --quiet -e ".[docs]"
	$(BIN)/python -m nksim.registry_docs
	$(BIN)/mkdocs build --strict

# >= 10,000 generated cases over every entry point and the full parameter sweep, in jobs run FUZZ_WORKERS at a time;
# prints the counts (about 14 CPU-minutes: 10 min on 2 cores, much longer when they are shared). Logs of each
# job in runs/fuzz-logs/, failing inputs in runs/fuzz-failures/
FUZZ_WORKERS ?= 2
fuzz: $(STAMP)
	$(BIN)/python tests/fuzz/run_fuzz.py --workers $(FUZZ_WORKERS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cohort.py

screenshots: $(STAMP)  # report and ABM pictures in headless Chromium (Debian: apt-get install chromium)
	$(BIN)/python scripts/screenshots.py

app: $(STAMP)  # the interactive app on http://127.0.0.1:5006 (Ctrl-C stops)
	$(BIN)/nksim app

# every app page driven in headless Chromium (Debian: apt-get install chromium), screenshots into docs/images,
# and the 200-patient first-figure time
app-test: $(STAMP)
	NKSIM_APP_FULL=1 NKSIM_APP_SCREENSHOTS=docs/images $(BIN)/python -m pytest -o addopts="" -q tests/test_app_browser.py
	$(BIN)/python benchmarks/bench_app.py

clean:
	rm -rf $(VENV) runs site
