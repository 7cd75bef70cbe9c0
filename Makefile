# The course's two commands:  make lab  |  make test
# Both create .venv from the project's own files (requirements.lock: exact versions made
# from pyproject.toml) and install `helpers` editable, then start JupyterLab or run the tests.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.dl4health-installed
# Where JupyterLab listens (make lab PORT=9999 HOST=0.0.0.0 for a remote machine).
HOST   ?= 127.0.0.1
PORT   ?= 8888
# Stop a hung notebook cell after this many seconds (nbval's default is 2000).
CELL_TIMEOUT ?= 300
# Jupyter refuses to run as root unless told; containers often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
NBVAL_FLAGS := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=$(CELL_TIMEOUT)

.PHONY: lab test unit notebooks execute lock clean help

help:
	@echo "make lab    set up .venv and open JupyterLab in notebooks/"
	@echo "make test   set up .venv, run the unit tests, then the nbval notebook regression"
	@echo "make execute  re-run every notebook and store its outputs (the tests' expectations)"
	@echo "make lock   re-make requirements.lock from pyproject.toml (needs the internet)"

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; ok = (3, 10) <= v <= (3, 13); \
	  sys.exit(0 if ok else f"dl4health needs Python 3.10-3.13 (TensorFlow 2.21 has wheels for those only); {sys.executable} is {v[0]}.{v[1]}. Run: make $(MAKECMDGOALS) PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.ip=$(HOST) --ServerApp.port=$(PORT) $(ROOT_FLAG)

test: unit notebooks

unit: $(STAMP)
	$(PY) -m pytest tests

notebooks: $(STAMP)
	$(PY) -m pytest $(NBVAL_FLAGS) notebooks

execute: $(STAMP)
	$(PY) tools/execute_notebooks.py notebooks/*.ipynb

lock:
	uv pip compile pyproject.toml --extra test --universal --python-version 3.11 \
	  --custom-compile-command "make lock" -o requirements.lock

clean:
	rm -rf $(VENV) build .pytest_cache
