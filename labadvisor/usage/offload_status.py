"""Docker Offload's session state for the ledger: ``docker offload status --format json`` first.

Current plugins print JSON with ``--format json``; older ones reject the flag and print
``State: ...`` lines, which are parsed instead (the reader remembers which works). Without the
plugin the state is "not installed", and the reader asks again only every few minutes, so a
machine without Docker Desktop pays for one failed lookup per interval at most.

Offload bills a running session; Docker Desktop moves a session with no activity to an idle
state. :func:`is_billable` counts every state but the stopped and idle ones, so an unfamiliar
state from a newer plugin is counted rather than missed. A plugin that fails (Docker Desktop
not running, signed out) gives the state "error", which is not an answer: the sampler then
falls back to the Docker context, as without a plugin.
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

NOT_INSTALLED = "not installed"
ERROR = "error"  # the plugin is there but did not answer (Docker Desktop stopped, signed out)
NOT_BILLED = frozenset({"stopped", "idle", "inactive", "not started", NOT_INSTALLED, ERROR})
_MISSING_PLUGIN = re.compile(r"is not a docker command|unknown command", re.IGNORECASE)
_UNKNOWN_FLAG = re.compile(r"unknown (shorthand )?flag|flag provided but not defined", re.I)
_FIELD = re.compile(r"^\s*(State|Status|GPU)\s*:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)

Runner = Callable[[list[str], float], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class OffloadState:
    installed: bool
    state: str  # lower case: "started", "idle", "stopped", ..., "not installed", "error"
    gpu: str | None
    format: str  # how it was read: "json", "plain" or "none" (no plugin)
    output: str

    @property
    def billable(self) -> bool:
        return is_billable(self.state)

    @property
    def answered(self) -> bool:
        """The plugin is installed and said what the session is doing."""
        return self.installed and self.state != ERROR

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "billable": self.billable}


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
        gpu_text = str(gpu) or None
    return state.strip().lower() or "unknown", gpu_text


def parse_plain(text: str) -> tuple[str, str | None]:
    """State and GPU from ``State: ...`` / ``GPU: ...`` lines."""
    fields = {key.lower(): value for key, value in _FIELD.findall(text)}
    state = (fields.get("state") or fields.get("status") or "unknown").lower()
    gpu = fields.get("gpu")
    return state, None if gpu is None or gpu.lower() in ("", "none") else gpu


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
    """Reads the plugin's status, JSON first; never raises."""

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

    def read(self) -> OffloadState:
        if self._missing_until is not None and self._clock() < self._missing_until:
            return _not_installed()
        self._missing_until = None
        try:
            if self._json:
                result = self._run(["status", "--format", "json"])
                if result is None:
                    return self._missing()
                output = (result.stdout + result.stderr).strip()
                parsed = parse_json(result.stdout) if result.returncode == 0 else None
                if parsed is not None:
                    return OffloadState(True, parsed[0], parsed[1], "json", output)
                if result.returncode and not _UNKNOWN_FLAG.search(output):
                    return OffloadState(True, ERROR, None, "json", output)
                self._json = False  # an older plugin: plain text from now on
            result = self._run(["status"])
            if result is None:
                return self._missing()
            output = (result.stdout + result.stderr).strip()
            if result.returncode:
                return OffloadState(True, ERROR, None, "plain", output)
            state, gpu = parse_plain(output)
            return OffloadState(True, state, gpu, "plain", output)
        except (OSError, subprocess.SubprocessError) as exc:
            return OffloadState(True, ERROR, None, "none", str(exc))

    def _missing(self) -> OffloadState:
        self._missing_until = self._clock() + self.recheck_missing_s
        return _not_installed()

    def _run(self, arguments: list[str]) -> subprocess.CompletedProcess[str] | None:
        """The finished command, or None without docker or the plugin."""
        if self._runner is not None:
            result = self._runner(["offload", *arguments], self.timeout)
        else:
            executable = shutil.which(self.docker)
            if executable is None:
                return None
            result = subprocess.run(
                [executable, "offload", *arguments],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                stdin=subprocess.DEVNULL,  # the plugin must not wait for prompts
            )
        if result.returncode and _MISSING_PLUGIN.search(result.stdout + result.stderr):
            return None
        return result


def _not_installed() -> OffloadState:
    return OffloadState(False, NOT_INSTALLED, None, "none", "")


def status(*, docker: str = "docker", timeout: float = 30.0) -> OffloadState:
    """One reading (JSON first, then the plain output), for callers that ask once."""
    return OffloadStatusReader(docker, timeout=timeout, recheck_missing_s=0).read()
