#!/usr/bin/env bash
# Starts JupyterLab the way `make lab` does: usage `scripts/lab_server.sh VENV_BIN [jupyter lab options]`.
#
# The server runs with the venv's bin first on PATH, so notebooks (`!labadvisor`) and
# JupyterLab terminals find the venv's commands without an activated venv. Terminals run the
# user's shell as a plain interactive shell, not a login shell: jupyter_server makes it a
# login shell whenever its own output is not a terminal, and a login shell reads
# /etc/profile, which on Debian sets PATH afresh and drops the venv again.
# tests/test_lab_command.py starts the server through this script.
set -euo pipefail
bin=$(cd "$1" && pwd)
shift
export PATH="$bin:$PATH"
shell=${SHELL:-/bin/bash}
exec "$bin/jupyter" lab --ServerApp.terminado_settings="{'shell_command': ['$shell']}" "$@"
