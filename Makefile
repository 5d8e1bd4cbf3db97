# Two entry points: `make lab` and `make test`. Both install only what is missing.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_MODULES := jupyter_ext/node_modules/.yarn-state.yml
# jlpm from the venv, in the front end's folder; its scripts call jlpm again, so PATH too.
JLPM := cd jupyter_ext && PATH="$(abspath $(BIN)):$$PATH" jlpm
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
APT_PACKAGES := docker.io chromium busybox-static openssl postgresql
# pip warns about every missing local mirror directory this machine's pip config names.
PIP_NOISE := is ignored: it is neither a file nor a directory
export YARN_CACHE_FOLDER := $(CURDIR)/.yarn-cache

.PHONY: lab test install system-deps lint format unit notebooks binder-replay refresh-notebooks clean

# The venv's bin goes first on the server's PATH, terminals included (scripts/lab_server.sh).
lab: install
	scripts/lab_server.sh $(BIN) $(ROOT_FLAG) --ServerApp.root_dir=notebooks \
		--LabApp.default_url=/lab/tree/01-quickstart.ipynb

# Under `make test` a missing engine or browser is a failure, not a skip.
test: export LABADVISOR_REQUIRE_DOCKER := 1
test: export LABADVISOR_REQUIRE_BROWSER := 1
test: export LABADVISOR_REQUIRE_POSTGRES := 1
test: system-deps install lint unit notebooks binder-replay

# Unit and integration tests: real dockerd engines, jupyter_server, headless Chromium.
unit: install
	$(BIN)/python -m pytest -p no:cacheprovider tests

# The demo notebooks, in a throw-away HOME and Docker config with no engine behind them, so
# they never read ~/.docker or reach /var/run/docker.sock.
notebooks: install
	sandbox=$$(mktemp -d -t labadvisor-nb.XXXXXX); trap 'rm -rf "$$sandbox"' EXIT; \
	HOME=$$sandbox DOCKER_CONFIG=$$sandbox/.docker DOCKER_HOST=unix://$$sandbox/no-engine.sock \
	  $(BIN)/python -m pytest -p no:cacheprovider --nbval-lax notebooks

binder-replay:
	bash binder/replay.sh

# Re-execute the demo notebooks in place after a change to what they print.
refresh-notebooks: install
	$(BIN)/python scripts/refresh_notebooks.py

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard jupyter_ext/package.json jupyter_ext/src/*.ts jupyter_ext/style/* jupyter_ext/schema/*.json)
	@# Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { echo "installing Debian package python3-venv"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	$(BIN)/python -m pip install -q -e '.[test,dev]' 2>&1 | { grep -v "$(PIP_NOISE)" || true; }
	touch $@

# Debian packages the tests need: a real dockerd, a static busybox for the tiny test image,
# openssl for the TLS context tests, and a headless Chromium.
system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Python: ruff and mypy (configured in pyproject.toml). Front end: prettier and eslint
# (configured in jupyter_ext/), run by `jlpm lint:check` as the extension template does.
lint: install $(NODE_MODULES)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(JLPM) lint:check

format: install $(NODE_MODULES)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(JLPM) lint

# The front end's npm packages (eslint and prettier included), as jupyter_ext/yarn.lock pins them.
$(NODE_MODULES): $(STAMP) jupyter_ext/package.json jupyter_ext/yarn.lock
	$(JLPM) install
	touch $@

clean:
	rm -rf $(VENV) build dist labadvisor/labextension labadvisor/_version.py jupyter_ext/node_modules \
		jupyter_ext/lib jupyter_ext/.eslintcache .yarn-cache
