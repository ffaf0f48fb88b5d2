# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv in the repo root when missing and install what they need.
VENV    ?= .venv
PY      := $(VENV)/bin/python
# CPU build by default (a local wheel on these machines). GPU users: install a CUDA build of
# torch into .venv first and run `make install TORCH=` (see README, "GPU").
TORCH   ?= torch==2.13.0
MODELS  := $(abspath ../shared/models)
export SCREENING_MODELS_DIR ?= $(if $(wildcard $(MODELS)),$(MODELS),)

.PHONY: install test demo lint bench clean-demo

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(if $(TORCH),$(PY) -m pip install -q "$(TORCH)")
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# two worker processes (the CI's two cores); conftest gives each its share of the threads
# and sends the tests that share the expensive LGPS trajectory to one worker
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS)

lint: install
	$(VENV)/bin/ruff check screening tests bench

DEMO_DIR ?= .screening/demo
demo: install
	mkdir -p $(DEMO_DIR)
	SCREENING_DATA_DIR=$(DEMO_DIR) $(VENV)/bin/screening campaign run workflows/demo.yaml
	SCREENING_DATA_DIR=$(DEMO_DIR) $(VENV)/bin/screening rank lgps-demo --top 20

bench: install
	for b in bench/*.py; do $(PY) $$b | tail -1; done
