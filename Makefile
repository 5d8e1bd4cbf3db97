# Two entry points: `make lab` and `make test`. Both install only what is missing.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
APT_PACKAGES := docker.io chromium
# pip warns about every missing local mirror directory this machine's pip config names.
PIP_NOISE := is ignored: it is neither a file nor a directory
export YARN_CACHE_FOLDER := $(CURDIR)/.yarn-cache

.PHONY: lab test install system-deps lint format unit notebooks binder-replay clean

lab: install
	$(BIN)/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=notebooks \
		--LabApp.default_url=/lab/tree/01-quickstart.ipynb

test: system-deps install lint
	$(BIN)/python -m pytest -p no:cacheprovider tests
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax notebooks
	bash binder/replay.sh

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard jupyter_ext/package.json jupyter_ext/src/*.ts jupyter_ext/schema/*.json)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	$(BIN)/python -m pip install -q -e '.[test,dev]' 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	touch $@

# Debian packages the tests need: a real dockerd and a headless Chromium.
system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist labadvisor/labextension jupyter_ext/node_modules jupyter_ext/lib .yarn-cache
