"""A stand-in ``docker-offload`` CLI plugin for the real docker CLI: it writes each command it
runs to ``calls`` beside itself and answers ``status`` (JSON or plain) as the real plugin
does: started on an NVIDIA L4 until it is stopped."""

from __future__ import annotations

from pathlib import Path

PLUGIN = """#!/bin/sh
if [ "$1" = docker-cli-plugin-metadata ]; then
  echo '{"SchemaVersion":"0.1.0","Vendor":"labadvisor tests","Version":"v0.0.1"}'; exit 0
fi
shift
calls="$(dirname "$0")/calls"
echo "$*" >> "$calls"
state=started
if grep -qx stop "$calls"; then state=stopped; fi
case "$*" in
  version) echo "offload v0.0.1" ;;
  stop) echo "Docker Offload stopped" ;;
  "status --format json")
    if [ $state = started ]; then echo '{"state":"started","gpu":"NVIDIA L4"}'
    else echo '{"state":"stopped"}'; fi ;;
  status)
    if [ $state = started ]; then printf 'State: started\\nGPU: NVIDIA L4\\n'
    else printf 'State: stopped\\n'; fi ;;
esac
"""


def install_offload_plugin(docker_config: Path) -> Path:
    """Put the plugin in ``docker_config``'s ``cli-plugins``; the file its calls go to."""
    plugins = docker_config / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    plugin = plugins / "docker-offload"
    plugin.write_text(PLUGIN)
    plugin.chmod(0o755)
    return plugins / "calls"


def remove_offload_plugin(docker_config: Path) -> None:
    for name in ("docker-offload", "calls"):
        (docker_config / "cli-plugins" / name).unlink(missing_ok=True)


def plugin_calls(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []
