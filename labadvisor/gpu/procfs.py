"""What Linux's /proc says about a process NVML named: does it exist here, does it hold an
NVIDIA device, who started it, what runs in it (its arguments, which name a Jupyter
kernel's connection file), which container it is in, and its parent.

One :class:`Procfs` serves one :func:`labadvisor.gpu.processes` call: each pid's files are
read at most once per call, and user names are cached for the life of the process. The
root is a parameter so tests can hand it a /proc-like directory tree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

# Character devices a process using an NVIDIA GPU keeps open (nvidiactl, nvidia0...,
# nvidia-uvm, and /dev/nvidia-caps/* for MIG); a test seam replaces it.
GPU_DEVICE_PREFIXES: tuple[str, ...] = ("/dev/nvidia",)
# How far up the parent chain a holder is followed, and how many open files are looked at
# before giving up: both bound the cost of one call on a machine with odd processes.
MAX_ANCESTRY = 64
MAX_FDS_CHECKED = 4096
COMMAND_LENGTH = 200

GpuUse = Literal["yes", "no", "unknown"]

# A container id is 64 hex digits in a cgroup path component: "docker-<id>.scope" (systemd
# driver), "/docker/<id>" (cgroupfs), "cri-containerd-<id>.scope", "crio-<id>.scope",
# "libpod-<id>.scope" (podman), "nerdctl-<id>.scope", or "/kubepods/.../<id>".
_CONTAINER_ID = re.compile(r"(?:^|[-/])([0-9a-f]{64})(?:\.scope)?$")

_user_names: dict[int, str] = {}


@dataclass(frozen=True)
class ProcessFacts:
    """What /proc shows about one pid; None where it does not show it."""

    pid: int
    exists: bool
    ppid: int | None = None
    comm: str | None = None
    uid: int | None = None
    gpu_use: GpuUse = "unknown"
    gpu_use_reason: str | None = None  # why gpu_use is "unknown"


class Procfs:
    """Reads /proc (or a tree laid out like it) for one call, each pid at most once."""

    def __init__(
        self,
        root: str | os.PathLike[str] = "/proc",
        device_prefixes: tuple[str, ...] | None = None,
    ) -> None:
        self.root = os.fspath(root)
        self.device_prefixes = device_prefixes or GPU_DEVICE_PREFIXES
        self._facts: dict[int, ProcessFacts] = {}
        self._stats: dict[int, tuple[str, int] | None] = {}
        self._arguments: dict[int, tuple[str, ...] | None] = {}
        self._commands: dict[int, str | None] = {}
        self._containers: dict[int, str | None] = {}

    def _path(self, pid: int, name: str = "") -> str:
        # Plain concatenation: os.path.join was a tenth of a 400-process call.
        return f"{self.root}/{pid}/{name}" if name else f"{self.root}/{pid}"

    def facts(self, pid: int) -> ProcessFacts:
        """Existence, parent, owner and GPU use of ``pid`` (read once per Procfs)."""
        known = self._facts.get(pid)
        if known is None:
            known = self._facts[pid] = self._read_facts(pid)
        return known

    def parent(self, pid: int) -> int | None:
        """The parent's pid, read from /proc/<pid>/stat only (no GPU check)."""
        stat = self._stat(pid)
        return stat[1] if stat is not None else None

    def ancestry(self, pid: int) -> list[int]:
        """``pid`` and its ancestors, nearest first, up to ``MAX_ANCESTRY`` of them; ends
        before pid 0 (the kernel) or at the first pid whose stat cannot be read."""
        chain = [pid]
        current: int | None = pid
        while len(chain) < MAX_ANCESTRY:
            current = self.parent(current) if current is not None else None
            if current is None or current <= 0 or current in chain:
                break
            chain.append(current)
        return chain

    def arguments(self, pid: int) -> tuple[str, ...] | None:
        """The command line's arguments, whole; None when unreadable or empty (a kernel
        thread, a zombie)."""
        if pid not in self._arguments:
            raw = self._read_bytes(pid, "cmdline")
            raw = raw.rstrip(b"\0") if raw else None
            self._arguments[pid] = tuple(raw.decode(errors="replace").split("\0")) if raw else None
        return self._arguments[pid]

    def command(self, pid: int) -> str | None:
        """The command line, arguments separated by spaces and cut to ``COMMAND_LENGTH``."""
        if pid not in self._commands:
            arguments = self.arguments(pid)
            text = " ".join(arguments) if arguments else None
            if text and len(text) > COMMAND_LENGTH:
                text = text[: COMMAND_LENGTH - 1] + "…"
            self._commands[pid] = text or None
        return self._commands[pid]

    def container_id(self, pid: int) -> str | None:
        """The container id its /proc/<pid>/cgroup names, or None (not in a container, or
        in the same cgroup namespace's root, or unreadable)."""
        if pid not in self._containers:
            raw = self._read_bytes(pid, "cgroup")
            self._containers[pid] = container_id_in(raw.decode(errors="replace")) if raw else None
        return self._containers[pid]

    def user(self, uid: int | None) -> str | None:
        if uid is None:
            return None
        name = _user_names.get(uid)
        if name is None:
            try:
                import pwd

                name = pwd.getpwuid(uid).pw_name
            except (ImportError, KeyError):
                name = str(uid)  # no passwd entry (common in containers): the number says it
            _user_names[uid] = name
        return name

    # --- reading ---------------------------------------------------------------------------
    def _read_facts(self, pid: int) -> ProcessFacts:
        stat = self._stat(pid)
        if stat is None:
            return ProcessFacts(pid, exists=False)
        comm, ppid = stat
        try:
            uid: int | None = os.stat(self._path(pid)).st_uid
        except OSError:
            uid = None
        use, reason = self._gpu_use(pid)
        return ProcessFacts(pid, True, ppid, comm, uid, use, reason)

    def _stat(self, pid: int) -> tuple[str, int] | None:
        """(comm, ppid) from /proc/<pid>/stat; None when there is no such process."""
        if pid not in self._stats:
            self._stats[pid] = self._read_stat(pid)
        return self._stats[pid]

    def _read_stat(self, pid: int) -> tuple[str, int] | None:
        raw = self._read_bytes(pid, "stat")
        if not raw:
            return None
        text = raw.decode(errors="replace")
        # "pid (comm) state ppid ...": comm may itself hold spaces and parentheses.
        open_at, close_at = text.find("("), text.rfind(")")
        fields = text[close_at + 2 :].split()
        if open_at < 0 or close_at < open_at or len(fields) < 2:
            return None
        try:
            return text[open_at + 1 : close_at], int(fields[1])
        except ValueError:
            return None

    def _gpu_use(self, pid: int) -> tuple[GpuUse, str | None]:
        """Whether the process has an NVIDIA device file open: every CUDA process keeps
        /dev/nvidiactl and its GPUs' device files open while it holds a context."""
        fd_dir = f"{self.root}/{pid}/fd"
        try:
            entries = os.scandir(fd_dir)
        except PermissionError:
            return "unknown", f"{fd_dir} is not readable (another user's process)"
        except OSError as exc:
            return "unknown", f"{fd_dir}: {exc.strerror or exc}"
        prefixes = self.device_prefixes
        with entries:
            for checked, entry in enumerate(entries):
                if checked >= MAX_FDS_CHECKED:
                    return "unknown", f"more than {MAX_FDS_CHECKED} open files"
                try:
                    target = os.readlink(f"{fd_dir}/{entry.name}")
                except OSError:
                    continue  # closed meanwhile
                if target.startswith(prefixes):
                    return "yes", None
        return "no", None

    def _read_bytes(self, pid: int, name: str) -> bytes | None:
        # os.open/os.read: a third of the cost of a buffered open() for these tiny files.
        try:
            fd = os.open(self._path(pid, name), os.O_RDONLY)
        except OSError:
            return None
        try:
            return os.read(fd, 65536)
        except OSError:
            return None
        finally:
            os.close(fd)


def container_id_in(cgroup: str) -> str | None:
    """The container id in the text of a /proc/<pid>/cgroup file, if any line names one."""
    for line in cgroup.splitlines():
        path = line.split(":", 2)[-1]
        for component in reversed(path.split("/")):
            match = _CONTAINER_ID.search(component)
            if match:
                return match.group(1)
    return None
