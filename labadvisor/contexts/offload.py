"""Docker Offload through its CLI plugin (``docker offload status|start|stop``).

The plugin ships with Docker Desktop 4.50+. Without it, :func:`status` answers "not installed"
and :func:`start`/:func:`stop` raise OffloadNotInstalledError with that explanation. ``start``
creates and selects the ``docker-cloud`` context for all docker clients; to move just this
kernel afterwards, call ``labadvisor.contexts.use("offload")``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

from labadvisor.contexts.errors import OffloadError, OffloadNotInstalledError

NOT_INSTALLED = "not installed"
NOT_INSTALLED_MESSAGE = (
    "Docker Offload is not available: the `docker offload` CLI plugin was not found. "
    "Docker Offload needs Docker Desktop 4.50 or later; install or update Docker Desktop, "
    "sign in, then run `docker offload start`."
)
# What the docker CLI prints for an unknown subcommand (wording differs between versions).
_MISSING_PLUGIN = re.compile(r"is not a docker command|unknown command", re.IGNORECASE)
_FIELD = re.compile(r"^\s*(State|GPU)\s*:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class OffloadStatus:
    installed: bool
    state: str  # "not installed", or what the plugin prints after "State:" ("unknown" if nothing)
    gpu: str | None
    message: str
    output: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        gpu = f", GPU: {self.gpu}" if self.gpu else ""
        return f"<Docker Offload: {self.state}{gpu}>"


def status(*, docker: str = "docker", timeout: float = 30.0) -> OffloadStatus:
    """The plugin's ``State:`` and ``GPU:`` lines; "not installed" instead of an error."""
    try:
        result = _run(docker, ["status"], timeout)
    except OffloadNotInstalledError:
        return OffloadStatus(False, NOT_INSTALLED, None, NOT_INSTALLED_MESSAGE, "")
    output = (result.stdout + result.stderr).strip()
    fields = {key.lower(): value for key, value in _FIELD.findall(output)}
    state = fields.get("state") or "unknown"
    message = output if result.returncode else f"Docker Offload is {state}"
    return OffloadStatus(True, state, fields.get("gpu"), message, output)


def start(gpu: bool = True, *, docker: str = "docker", timeout: float = 300.0) -> OffloadStatus:
    """``docker offload start [--gpu]``; returns the status afterwards."""
    _checked(docker, ["start", "--gpu"] if gpu else ["start"], timeout)
    return status(docker=docker)


def stop(*, docker: str = "docker", timeout: float = 120.0) -> OffloadStatus:
    """``docker offload stop`` (the CLI returns to the local context); returns the status."""
    _checked(docker, ["stop"], timeout)
    return status(docker=docker)


def _checked(docker: str, arguments: list[str], timeout: float) -> None:
    # Probe with a flagless command first: without the plugin, the CLI would read a flag such
    # as --gpu as its own and fail with "unknown flag" instead of naming the missing command.
    _run(docker, ["version"], min(timeout, 30.0))
    result = _run(docker, arguments, timeout)
    if result.returncode:
        output = (result.stdout + result.stderr).strip()
        raise OffloadError(
            f"`docker offload {' '.join(arguments)}` failed (exit {result.returncode}): {output}"
        )


def _run(docker: str, arguments: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    executable = shutil.which(docker)
    if executable is None:
        raise OffloadNotInstalledError(f"no `{docker}` command on PATH. {NOT_INSTALLED_MESSAGE}")
    command = [executable, "offload", *arguments]
    try:
        # stdin closed: the plugin must not wait for answers to prompts nobody can see.
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise OffloadError(
            f"`docker offload {' '.join(arguments)}` took over {timeout:g} s"
        ) from exc
    if result.returncode and _MISSING_PLUGIN.search(result.stdout + result.stderr):
        raise OffloadNotInstalledError(NOT_INSTALLED_MESSAGE)
    return result
