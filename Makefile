# Two commands on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PF     := $(VENV)/bin/pushforward

.PHONY: venv bench-deps demo test test-all lint format browser clean docs test-wheel mutate \
	reproduce-quick gpu-check

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build first and pinned, so nothing pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,tensorboard,docs,notebooks]'
	$(MAKE) bench-deps
	touch $(STAMP)

venv: $(STAMP)

# the peers of `pushforward bench train`, without their dependencies: torchcfm's torchdyn
# would pull torchvision from PyPI, which does not import beside this torch
bench-deps:
	$(PY) -m pip install -q --no-deps torchcfm==1.0.7 flow_matching==1.0.10

demo: venv
	$(PF) run drift-bimodal --overwrite
	$(PF) run fm-bimodal --overwrite
	@echo "open runs/drift-bimodal/report.html and runs/fm-bimodal/report.html"

test: venv
	$(PY) -m pytest -m "not slow" -q --durations=12

test-all: venv browser
	$(PY) -m pytest -q

# the API reference site from the docstrings and docs/*.md, warnings as errors (into site/)
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# build the wheel, install it into a fresh venv (torch pinned first), list and run 20 steps
test-wheel: venv
	$(PY) -m pytest -q -m wheel tests/packaging

# three seed claims at their quick budgets, end to end (CI): exit 1 unless all reproduce
reproduce-quick: venv
	OMP_NUM_THREADS=1 $(PF) reproduce --profile quick --strict --quiet --out runs/reproduce-ci \
		--only drift-collapse,fm-both-modes,latent-flow-gauss-control

# issue 22's GPU measurements in one go on a lent GPU (scripts/gpu_check.sh; exit 2 at once
# without CUDA): tables into GPU_CHECK_DIR (default $OUT, else runs/gpu-check). No venv or pip
# step: a lent machine has no .venv, so $(PY) falls back to its python3 (the one with CUDA torch)
GPU_CHECK_DIR ?=
gpu-check:
	PY="$(if $(wildcard $(PY)),$(PY),python3)" bash scripts/gpu_check.sh $(GPU_CHECK_DIR)

lint: venv
	$(VENV)/bin/ruff check src tests scripts conftest.py
	$(VENV)/bin/ruff format --check src tests scripts conftest.py

format: venv
	$(VENV)/bin/ruff format src tests
	$(VENV)/bin/ruff check --fix src tests

# headless Chromium for the report tests (Debian packages; needs root)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

clean:
	rm -rf runs .pytest_cache

# mutation testing of the modules whose numbers we publish (see docs/testing.md): 3–6 hours
# on the 2-core CPU, so not part of `make test`; the table goes to runs/mutation.md
mutate: venv
	$(PY) -m pip install -q mutmut==3.8.1
	rm -rf mutants && mkdir -p runs
	OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children 1 > runs/mutmut.log 2>&1 || true
	$(VENV)/bin/mutmut results --all true | $(PY) scripts/mutation_report.py > runs/mutation.md
	@cat runs/mutation.md
