# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed markers: reinstall when pyproject.toml changes.
# The matte's numba kernels are compiled once here (about a minute), not on the first capture.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -c "from photocore.render.matte import warm_up; warm_up()"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c "from photocore.render.matte import warm_up; warm_up()"
	touch $(VENV)/.installed $@

# The main job on the sample capture: every credential's photo, a report and a contact sheet.
run: $(VENV)/.installed
	@$(BIN)/photocore convert examples/sample_capture.jpg --all --out out/sample_capture; \
	status=$$?; test $$status -le 1

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

# The quick subset while working: not the tests marked slow (seconds each: whole-catalogue
# renders, subprocesses, servers, browsers, kill tests) or postgres (pyproject.toml markers).
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow and not postgres"

# ruff and mypy, configured in pyproject.toml ([tool.ruff], [tool.mypy]: strict on the public API),
# and the README's code tables against photocore/error_codes.toml
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check
	$(BIN)/mypy
	$(BIN)/python -m photocore.docs_tables --check README.md

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/accuracy.py

clean:
	rm -rf $(VENV) out build *.egg-info
