# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installed markers: reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

# The main job on the sample capture: check it as a master capture and draw what was seen.
run: $(VENV)/.installed
	@mkdir -p out
	@$(BIN)/photocore check examples/sample_capture.jpg --annotate out/sample_capture-annotated.png; \
	status=$$?; echo; echo "annotated image: out/sample_capture-annotated.png (exit code $$status)"; \
	test $$status -le 1

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/accuracy.py

clean:
	rm -rf $(VENV) out build *.egg-info
