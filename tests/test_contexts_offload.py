"""labadvisor.contexts.offload through the real docker CLI, with and without the plugin.

Docker Offload itself needs Docker Desktop and an account, so "installed" is a stand-in plugin
(a shell script that speaks the CLI plugin protocol) found by the real docker CLI.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from docker_engines import isolate_docker_env

from labadvisor.contexts import OffloadError, OffloadNotInstalledError, offload


def _clis() -> list[str]:
    found = ["/usr/bin/docker"] if os.access("/usr/bin/docker", os.X_OK) else []
    on_path = shutil.which("docker")
    if on_path and all(os.path.realpath(on_path) != os.path.realpath(c) for c in found):
        found.append(on_path)
    return found


CLIS = _clis()
pytestmark = pytest.mark.skipif(not CLIS, reason="no docker CLI (Debian package docker.io)")

# A stand-in plugin. "json" speaks ``status --format json`` as current plugins do; "plain" is
# an older plugin that rejects the flag (as cobra does) and prints ``State:`` lines.
FAKE_PLUGIN = """\
#!/bin/sh
if [ "$1" = docker-cli-plugin-metadata ]; then
  echo '{"SchemaVersion":"0.1.0","Vendor":"labadvisor tests","Version":"v0.0.1"}'
  exit 0
fi
shift
echo "$*" >> "{log}"
state="$(cat "{state}" 2>/dev/null || echo stopped)"
gpu="$(cat "{gpu}" 2>/dev/null || echo none)"
case "$*" in
  "status --format json")
    if [ "{flavour}" = plain ]; then echo "unknown flag: --format" >&2; exit 1; fi
    printf '{"State": "%s", "GPU": "%s"}\\n' "$state" "$gpu" ;;
  status) printf 'State: %s\\nGPU: %s\\n' "$state" "$gpu" ;;
  start*) if [ -e "{fail}" ]; then echo "not signed in" >&2; exit 3; fi
         echo started > "{state}"
         case " $* " in *" --gpu "*) echo "NVIDIA L4" > "{gpu}" ;; *) echo none > "{gpu}" ;; esac ;;
  stop) echo stopped > "{state}"; rm -f "{gpu}" ;;
esac
"""
FLAVOURS = ("json", "plain")


@pytest.fixture(params=CLIS or ["(none)"])
def docker_on_path(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """PATH whose `docker` is one real CLI; returns DOCKER_CONFIG."""
    config_dir = isolate_docker_env(monkeypatch, tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(request.param)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return config_dir


def install_fake_plugin(config_dir: Path, flavour: str = "json") -> Path:
    plugins = config_dir / "cli-plugins"
    plugins.mkdir()
    files = {name: plugins / name for name in ("log", "state", "gpu", "fail")}
    script = FAKE_PLUGIN.replace("{flavour}", flavour)
    for name, path in files.items():
        script = script.replace("{" + name + "}", str(path))
    plugin = plugins / "docker-offload"
    plugin.write_text(script)
    plugin.chmod(0o755)
    return plugins


def test_not_installed_is_a_status_not_an_error(docker_on_path: Path) -> None:
    status = offload.status()
    assert (status.installed, status.state, status.gpu) == (False, "not installed", None)
    assert "Docker Desktop 4.50" in status.message
    assert status.to_dict()["state"] == "not installed"
    for action in (offload.start, offload.stop):
        with pytest.raises(OffloadNotInstalledError, match=r"Docker Desktop 4\.50 or later"):
            action()


def test_no_docker_command_at_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_docker_env(monkeypatch, tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert offload.status().state == "not installed"
    with pytest.raises(OffloadNotInstalledError, match="no `docker` command on PATH"):
        offload.start()


# What one status() call asks the plugin: JSON first, then the plain output if it must.
STATUS_CALLS = {"json": ["status --format json"], "plain": ["status --format json", "status"]}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_status_start_stop_through_the_plugin(docker_on_path: Path, flavour: str) -> None:
    plugins = install_fake_plugin(docker_on_path, flavour)
    status = offload.status()
    # The plugin's "GPU: none" is a session without a GPU: None.
    assert (status.installed, status.state, status.gpu) == (True, "stopped", None)
    assert (status.format, status.billable, status.message) == (
        flavour, False, "Docker Offload is stopped",
    )  # fmt: skip
    assert repr(status) == "<Docker Offload: stopped>"

    started = offload.start(gpu=True)
    assert (started.state, started.gpu, started.billable) == ("started", "NVIDIA L4", True)
    assert repr(started) == "<Docker Offload: started, GPU: NVIDIA L4>"
    assert offload.stop().state == "stopped"
    offload.start(gpu=False)
    calls = (plugins / "log").read_text().splitlines()
    status_calls = STATUS_CALLS[flavour]
    assert [c for c in calls if c != "version"] == [
        *status_calls, "start --gpu", *status_calls, "stop", *status_calls, "start",
        *status_calls,
    ]  # fmt: skip


def test_a_failing_plugin_is_a_status_with_its_words(docker_on_path: Path) -> None:
    plugins = install_fake_plugin(docker_on_path)
    script = plugins / "docker-offload"
    script.write_text(script.read_text().replace(
        "shift\n", 'shift\necho "Docker Desktop is not running" >&2; exit 1\n'
    ))  # fmt: skip
    status = offload.status()
    assert (status.installed, status.state, status.answered) == (True, "error", False)
    assert "Docker Desktop is not running" in status.message


def test_failed_start_reports_the_plugin_output(docker_on_path: Path) -> None:
    plugins = install_fake_plugin(docker_on_path)
    (plugins / "fail").write_text("")
    with pytest.raises(OffloadError, match=r"start --gpu` failed \(exit 3\): not signed in"):
        offload.start()
    assert offload.status().state == "stopped"
