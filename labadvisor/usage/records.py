"""What one sampler tick records, as plain values shared by the sampler and every backend.

A row carries the user and the server it came from, so one lab-wide database can hold many
users' ledgers. A tick's timestamp sits on the sampler's interval grid (whole minutes at the
default 60 s), so two servers of one user on one host write the same key for the same GPU
and minute and the second write is a no-op: writes are idempotent, keyed by
(server, subject, timestamp).
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, field

SERVER_SCOPE = "server"
KERNEL_SCOPE_PREFIX = "kernel:"

# Offload sample sources: the plugin said so, or only the Docker context pointed at Offload
# (no plugin to ask, e.g. a remote server): then the time is an upper bound.
SOURCE_PLUGIN = "plugin"
SOURCE_CONTEXT = "context"
SOURCES = (SOURCE_PLUGIN, SOURCE_CONTEXT)


@dataclass(frozen=True)
class Identity:
    user: str
    server: str


def identity() -> Identity:
    """``JUPYTERHUB_USER`` or the login name; the host name, with ``JUPYTERHUB_SERVER_NAME``."""
    user = os.environ.get("JUPYTERHUB_USER") or _login_name()
    server = socket.gethostname() or "localhost"
    named = os.environ.get("JUPYTERHUB_SERVER_NAME")
    return Identity(user, f"{server}/{named}" if named else server)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class GpuReading:
    """One GPU (or MIG instance) at one tick, by its label ("GPU 0", "GPU 1 MIG 0")."""

    gpu: str
    utilization: float | None  # percent; None when the device does not report it
    memory_used: int | None  # bytes
    memory_total: int | None = None


@dataclass(frozen=True)
class HolderReading:
    """GPU memory one holder (a notebook, a container, a process) had at one tick."""

    gpu: str
    holder: str  # the notebook path for Jupyter kernels, else a description of the process
    memory_used: int  # bytes
    kernel_id: str | None = None


@dataclass(frozen=True)
class ContextReading:
    """The Docker context in force for one scope: the server, or one kernel ("kernel:<id>")."""

    scope: str
    context: str
    role: str | None  # "local", "offload", "remote", or None when the context does not exist


@dataclass(frozen=True)
class OffloadReading:
    """Docker Offload's session state at one tick, and whether that time is billed."""

    state: str
    source: str  # SOURCE_PLUGIN or SOURCE_CONTEXT (then the time is an upper bound)
    billable: bool


@dataclass(frozen=True)
class Sample:
    """Everything one tick saw; ``seconds`` is the time it stands for (the interval)."""

    ts: int
    seconds: float
    user: str
    server: str
    gpus: tuple[GpuReading, ...] = ()
    holders: tuple[HolderReading, ...] = ()
    contexts: tuple[ContextReading, ...] = ()
    offload: OffloadReading | None = None
    # For a lab's GPU contention: GPUs this server's processes hold memory on, and GPUs it
    # holds or asks for (its spawner's request, LABADVISOR_GPU_REQUEST), whichever is more.
    gpus_held: int = 0
    gpus_wanted: int = 0


@dataclass(frozen=True)
class KernelSwitch:
    """A kernel moved to its own Docker context (``context=None``: back to the server's)."""

    ts: float
    user: str
    server: str
    kernel_id: str
    context: str | None
    role: str | None


@dataclass(frozen=True)
class Batch:
    """What one write stores, in one transaction."""

    samples: tuple[Sample, ...] = ()
    switches: tuple[KernelSwitch, ...] = ()

    def __len__(self) -> int:
        return len(self.samples) + len(self.switches)


@dataclass(frozen=True)
class DailyRow:
    """One local calendar day of one subject, as the summary reads it.

    ``kind`` is "tick" (the sampler ran: ``seconds``), "gpu" (``key`` the GPU; ``busy_seconds``
    at or above the threshold; ``peak`` the most memory used, bytes) or "offload" (``key`` the
    source; ``busy_seconds`` the billed part). A sample counts in the day its hour starts in.
    """

    day: str  # ISO date, local time
    kind: str
    key: str
    seconds: float
    busy_seconds: float
    peak: int | None = None


@dataclass
class Pending:
    """Batches a failed write keeps for the next try, bounded so an outage cannot grow it."""

    limit: int
    batches: list[Batch] = field(default_factory=list)
    dropped: int = 0

    def add(self, batch: Batch) -> None:
        self.batches.append(batch)
        while len(self.batches) > self.limit:
            self.dropped += len(self.batches.pop(0))

    def merged(self) -> Batch:
        return Batch(
            tuple(s for b in self.batches for s in b.samples),
            tuple(k for b in self.batches for k in b.switches),
        )
