# Two commands on a fresh machine with Python 3.11+ and make:
#   make demo   set up .venv, generate a market, run the whole pipeline, print where outputs went
#   make test   set up .venv if needed and run the test suite
# and for contributors: make docs (regenerate the generated pages), make bench.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= demo

.PHONY: setup demo test test-all docs bench bench-l bench-value bench-smoke clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "creatorrank needs Python 3.11+, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# pip compiles bytecode on install: these machines set PYTHONDONTWRITEBYTECODE=1,
	# so nothing would be cached at run time.
	$(BIN)/python -m pip install --quiet --compile -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/creatorrank demo --out $(DEMO_DIR)

test: setup
	$(BIN)/pytest

test-all: setup
	$(BIN)/pytest -m ''

# Regenerate every generated page (docs/FEATURES.md, docs/CLI.md, docs/DATA_CONTRACT.md);
# tests/test_cli.py fails while a committed page differs.
docs: setup
	$(BIN)/python -m tools.docgen

bench: setup
	$(BIN)/python -m benchmarks.run --scales S,M

# Scale L (1M creators, ~100M posts, 200k campaigns) through the Dask engine: hours, ~6 GB of
# Parquet under bench-out/L; not part of CI. S and M keep their figures in bench-out/results.json.
bench-l: setup
	$(BIN)/python -m benchmarks.run --scales L --no-side-by-side

# The value model's calibration after the cutoff at S (two seeds) and M; rendered into BENCHMARKS.md.
bench-value: setup
	$(BIN)/python -m benchmarks.bench_value --creators 10000 --campaigns 2500 --seed 7 --out bench-out/value/S_seed7.json
	$(BIN)/python -m benchmarks.bench_value --creators 10000 --campaigns 2500 --seed 11 --out bench-out/value/S_seed11.json
	$(BIN)/python -m benchmarks.bench_value --creators 100000 --campaigns 20000 --seed 7 --out bench-out/value/M_seed7.json
	$(BIN)/python -m benchmarks.run --render-only

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache build dist
