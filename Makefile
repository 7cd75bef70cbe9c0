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
# Stored outputs must not depend on the thread count (issue 7): `make test` runs every notebook
# with 2 threads, then again with 1. TensorFlow reads TF_NUM_*OP_THREADS (tests/test_threads.py
# checks that it obeys them); NumPy's OpenBLAS reads OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.
THREADS_2 := OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=2
THREADS_1 := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1

.PHONY: lab test lint unit notebooks notebooks-1thread bench execute student lock clean help

help:
	@echo "make lab    set up .venv and open JupyterLab in notebooks/"
	@echo "make test   set up .venv, then lint, unit, notebooks and notebooks-1thread below"
	@echo "make lint   ruff on helpers, tests, tools, benchmarks and the notebooks"
	@echo "make unit   the unit tests (tests/), the browser test included"
	@echo "make notebooks  the nbval notebook regression with 2 threads"
	@echo "make notebooks-1thread  the same with 1 thread (outputs must not change)"
	@echo "make bench  time helpers.conv and helpers.cnn against TensorFlow, then every notebook (wall time, peak RAM, budgets)"
	@echo "make execute  re-run every notebook and store its outputs (the tests' expectations)"
	@echo "make student  write student copies (solutions replaced by stubs) to build/student/ [BINDER_REF=student]"
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

test: lint unit notebooks notebooks-1thread

lint: $(STAMP)
	$(VENV)/bin/ruff check helpers tests tools benchmarks notebooks

unit: $(STAMP)
	$(PY) -m pytest tests

notebooks: $(STAMP)
	$(THREADS_2) $(PY) -m pytest $(NBVAL_FLAGS) notebooks

notebooks-1thread: $(STAMP)
	$(THREADS_1) $(PY) -m pytest $(NBVAL_FLAGS) notebooks

bench: $(STAMP)
	$(PY) benchmarks/bench_conv.py
	$(PY) benchmarks/bench_cnn.py
	$(PY) benchmarks/bench_notebooks.py

execute: $(STAMP)
	$(THREADS_2) $(PY) tools/execute_notebooks.py notebooks/*.ipynb

student: $(STAMP)
	$(PY) -m helpers.student --out build/student $(if $(BINDER_REF),--binder-ref $(BINDER_REF))

lock:
	uv pip compile pyproject.toml --extra test --universal --python-version 3.11 \
	  --custom-compile-command "make lock" -o requirements.lock

clean:
	rm -rf $(VENV) build .pytest_cache
