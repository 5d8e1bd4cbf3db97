"""Docker Offload through its CLI plugin (``docker offload status|start|stop``).

The plugin ships with Docker Desktop 4.50+. Without it, :func:`status` answers "not installed"
and :func:`start`/:func:`stop` raise OffloadNotInstalledError with that explanation. ``start``
creates and selects the ``docker-cloud`` context for all docker clients; to move just this
kernel afterwards, call ``labadvisor.contexts.use("offload")``.

The status is read with ``docker offload status --format json``; older plugins reject the
flag and print ``State: ...`` lines, which are parsed instead. :class:`OffloadStatusReader`
is the one reader, shared by :func:`status` and the usage ledger's sampler (which keeps one
reader, so it remembers which format works and does not ask a missing plugin every minute).

Offload bills a running session; Docker Desktop moves a session with no activity to an idle
state. :func:`is_billable` counts every state but the stopped and idle ones, so an unfamiliar
state from a newer plugin is counted rather than missed. A plugin that fails (Docker Desktop
not running, signed out) gives the state "error", which is not an answer about the session.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from labadvisor.contexts.errors import OffloadError, OffloadNotInstalledError

NOT_INSTALLED = "not installed"
ERROR = "error"  # the plugin is there but did not answer (Docker Desktop stopped, signed out)
NOT_BILLED = frozenset({"stopped", "idle", "inactive", "not started", NOT_INSTALLED, ERROR})
NOT_INSTALLED_MESSAGE = (
    "Docker Offload is not available: the `docker offload` CLI plugin was not found. "
    "Docker Offload needs Docker Desktop 4.50 or later; install or update Docker Desktop, "
    "sign in, then run `docker offload start`."
)
# What the docker CLI prints for an unknown subcommand (wording differs between versions).
_MISSING_PLUGIN = re.compile(r"is not a docker command|unknown command", re.IGNORECASE)
_UNKNOWN_FLAG = re.compile(r"unknown (shorthand )?flag|flag provided but not defined", re.I)
_STATE_LINE = re.compile(r"^\s*State\s*:\s*\S", re.IGNORECASE | re.MULTILINE)
_FIELD = re.compile(r"^\s*(State|Status|GPU)\s*:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)

# Runs ``docker <arguments>`` with a timeout (injected by tests).
Runner = Callable[[list[str], float], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class OffloadStatus:
    installed: bool
    state: str  # lower case: "started", "idle", "stopped", ..., "not installed", "error"
    gpu: str | None  # the GPU the session has, None without one
    message: str  # a sentence for people
    output: str  # what the plugin printed
    format: str = "none"  # how it was read: "json", "plain" or "none" (no plugin)

    @property
    def billable(self) -> bool:
        return is_billable(self.state)

    @property
    def answered(self) -> bool:
        """The plugin is installed and said what the session is doing."""
        return self.installed and self.state != ERROR

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "billable": self.billable}

    def __repr__(self) -> str:
        gpu = f", GPU: {self.gpu}" if self.gpu else ""
        return f"<Docker Offload: {self.state}{gpu}>"


def is_billable(state: str) -> bool:
    return state.strip().lower() not in NOT_BILLED


def parse_json(text: str) -> tuple[str, str | None] | None:
    """State and GPU from the plugin's JSON, or None if ``text`` is not such JSON."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    state = _find(data, ("state", "status"))
    if not isinstance(state, str):
        return None
    gpu = _find(data, ("gpu",))
    if isinstance(gpu, bool):
        gpu_text: str | None = "yes" if gpu else None
    elif gpu is None or isinstance(gpu, (dict, list)):
        gpu_text = None
    else:
        gpu_text = _gpu(str(gpu))
    return state.strip().lower() or "unknown", gpu_text


def parse_plain(text: str) -> tuple[str, str | None]:
    """State and GPU from ``State: ...`` / ``GPU: ...`` lines."""
    fields = {key.lower(): value for key, value in _FIELD.findall(text)}
    state = (fields.get("state") or fields.get("status") or "unknown").lower()
    return state, _gpu(fields.get("gpu"))


def _gpu(text: str | None) -> str | None:
    # The plugin says "none" for a session without a GPU.
    return None if text is None or text.strip().lower() in ("", "none") else text.strip()


def _find(data: Any, keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` (any case) at the top level, else one level down."""
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return None
    lowered = {str(k).lower(): v for k, v in data.items()}
    for key in keys:
        if key in lowered and not isinstance(lowered[key], dict):
            return lowered[key]
    for value in lowered.values():
        if isinstance(value, dict):
            found = _find(value, keys)
            if found is not None:
                return found
    return None


class OffloadStatusReader:
    """Reads the plugin's status, JSON first; never raises.

    It remembers that a plugin rejected ``--format`` (plain text from then on) and, for
    ``recheck_missing_s`` seconds, that there was no plugin at all.
    """

    def __init__(
        self,
        docker: str = "docker",
        *,
        timeout: float = 10.0,
        recheck_missing_s: float = 600.0,
        runner: Runner | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.docker = docker
        self.timeout = timeout
        self.recheck_missing_s = recheck_missing_s
        self._runner = runner
        self._clock = clock
        self._json = True  # until the plugin rejects --format
        self._missing_until: float | None = None

    def read(self) -> OffloadStatus:
        if self._missing_until is not None and self._clock() < self._missing_until:
            return _not_installed()
        self._missing_until = None
        try:
            if self._json:
                result = self._run(["status", "--format", "json"])
                output = _output(result)
                parsed = parse_json(result.stdout)
                if parsed is not None:
                    return _answer(*parsed, "json", output)
                if result.returncode and not _UNKNOWN_FLAG.search(output):
                    return self._plain_or_failed(result, "json")
                self._json = False  # an older plugin: plain text from now on
            return self._plain_or_failed(self._run(["status"]), "plain")
        except OffloadNotInstalledError:
            self._missing_until = self._clock() + self.recheck_missing_s
            return _not_installed()
        except (OffloadError, OSError, subprocess.SubprocessError) as exc:
            return _failed("none", str(exc))

    def _run(self, arguments: list[str]) -> subprocess.CompletedProcess[str]:
        return _run(self.docker, arguments, self.timeout, self._runner)

    @staticmethod
    def _plain_or_failed(result: subprocess.CompletedProcess[str], form: str) -> OffloadStatus:
        output = _output(result)
        # A "State:" line is the plugin's answer even with a failing exit status (some
        # versions exit non-zero when no session runs), and from a plugin that ignored --format.
        if _STATE_LINE.search(output) or not result.returncode:
            return _answer(*parse_plain(output), "plain", output)
        return _failed(form, output)


def status(*, docker: str = "docker", timeout: float = 30.0) -> OffloadStatus:
    """The session's state and GPU (JSON first, then the plain output); never raises:
    "not installed" without the plugin, "error" (with the plugin's words) when it fails."""
    return OffloadStatusReader(docker, timeout=timeout, recheck_missing_s=0).read()


def start(gpu: bool = True, *, docker: str = "docker", timeout: float = 300.0) -> OffloadStatus:
    """``docker offload start [--gpu]``; returns the status afterwards."""
    _checked(docker, ["start", "--gpu"] if gpu else ["start"], timeout)
    return status(docker=docker)


def stop(*, docker: str = "docker", timeout: float = 120.0) -> OffloadStatus:
    """``docker offload stop`` (the CLI returns to the local context); returns the status."""
    _checked(docker, ["stop"], timeout)
    return status(docker=docker)


def _answer(state: str, gpu: str | None, form: str, output: str) -> OffloadStatus:
    return OffloadStatus(True, state, gpu, f"Docker Offload is {state}", output, form)


def _failed(form: str, output: str) -> OffloadStatus:
    message = f"`docker offload status` failed: {output}" if output else "failed"
    return OffloadStatus(True, ERROR, None, message, output, form)


def _not_installed() -> OffloadStatus:
    return OffloadStatus(False, NOT_INSTALLED, None, NOT_INSTALLED_MESSAGE, "", "none")


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr).strip()


def _checked(docker: str, arguments: list[str], timeout: float) -> None:
    # Probe with a flagless command first: without the plugin, the CLI would read a flag such
    # as --gpu as its own and fail with "unknown flag" instead of naming the missing command.
    _run(docker, ["version"], min(timeout, 30.0))
    result = _run(docker, arguments, timeout)
    if result.returncode:
        raise OffloadError(
            f"`docker offload {' '.join(arguments)}` failed (exit {result.returncode}): "
            f"{_output(result)}"
        )


def _run(
    docker: str, arguments: list[str], timeout: float, runner: Runner | None = None
) -> subprocess.CompletedProcess[str]:
    """``docker offload <arguments>``, finished; OffloadNotInstalledError without docker or the
    plugin, OffloadError when it takes over ``timeout`` seconds."""
    try:
        if runner is not None:
            result = runner(["offload", *arguments], timeout)
        else:
            executable = shutil.which(docker)
            if executable is None:
                raise OffloadNotInstalledError(
                    f"no `{docker}` command on PATH. {NOT_INSTALLED_MESSAGE}"
                )
            # stdin closed: the plugin must not wait for answers to prompts nobody can see.
            result = subprocess.run(
                [executable, "offload", *arguments],
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
    except subprocess.TimeoutExpired as exc:
        raise OffloadError(
            f"`docker offload {' '.join(arguments)}` took over {timeout:g} s"
        ) from exc
    if result.returncode and _MISSING_PLUGIN.search(result.stdout + result.stderr):
        raise OffloadNotInstalledError(NOT_INSTALLED_MESSAGE)
    return result
