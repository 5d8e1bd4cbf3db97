#!/usr/bin/env bash
# Replays a Binder (repo2docker) build without Docker, then runs the demo notebooks there.
#
# Like Binder it starts from a clean copy of the repository (the files git tracks, as they
# are in the working tree: no build output, no .venv, nothing not yet added), a fresh
# virtual environment, an empty home directory and no Docker context store; it installs
# binder/requirements.txt, runs binder/postBuild, and executes every notebook with
# nbconvert, which JupyterLab already brings, so nothing outside binder/ is installed. A
# notebook that raises fails the replay.
#
# Usage: bash binder/replay.sh [WORKDIR]   (default: a new temp dir, removed afterwards)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
if [[ $# -ge 1 ]]; then
  work="$1"
  mkdir -p "$work"
else
  work="$(mktemp -d -t labadvisor-binder.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
fi
step() { printf '[binder replay] %s\n' "$*"; }

# pip and yarn keep their caches where they are, so a replay downloads little.
pip_cache="$("$python" -m pip cache dir 2>/dev/null || true)"
export PIP_CACHE_DIR="${pip_cache:-$work/pip-cache}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

step "copying the repository as git sees it to $work/repo"
rm -rf "$work/repo" && mkdir -p "$work/repo"
(cd "$repo" && git ls-files -z --cached) |
  (cd "$repo" && xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _) |
  tar -C "$repo" --null -T - -cf - | tar -C "$work/repo" -xf -

step "fresh virtual environment and home directory"
rm -rf "$work/venv" "$work/home"
"$python" -m venv "$work/venv"
mkdir -p "$work/home"
export HOME="$work/home"
export PATH="$work/venv/bin:$PATH"
export DOCKER_CONFIG="$work/home/.docker"
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH VIRTUAL_ENV PYTHONPATH \
  JUPYTER_CONFIG_DIR JUPYTER_DATA_DIR IPYTHONDIR LABADVISOR_CONFIG || true

# pip warns about every missing local mirror directory this machine's pip config names;
# pipefail keeps pip's own exit status.
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

cd "$work/repo"
step "pip install -r binder/requirements.txt"
quiet python -m pip install -q -r binder/requirements.txt

step "binder/postBuild"
quiet bash binder/postBuild

step "the package came from the copy, not from the checkout"
installed="$(cd "$work" && python -c 'import labadvisor, os; print(os.path.dirname(labadvisor.__file__))')"
[[ "$installed" == "$work/venv/"* ]] || { echo "labadvisor imported from $installed" >&2; exit 1; }

step "executing the notebooks"
mkdir -p "$work/executed"
for notebook in notebooks/*.ipynb; do
  step "  $notebook"
  jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=300 \
    --output-dir "$work/executed" --log-level=WARN "$notebook"
done
step "ok: the Binder environment installs and runs every notebook"
