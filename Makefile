# Two commands on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PF     := $(VENV)/bin/pushforward

.PHONY: venv bench-deps demo test test-all lint format browser clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build first and pinned, so nothing pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
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
	$(PY) -m pytest -m "not slow" -q

test-all: venv browser
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check src tests conftest.py
	$(VENV)/bin/ruff format --check src tests conftest.py

format: venv
	$(VENV)/bin/ruff format src tests
	$(VENV)/bin/ruff check --fix src tests

# headless Chromium for the report tests (Debian packages; needs root)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

clean:
	rm -rf runs .pytest_cache
