"""Servers the tests start as processes on this machine: a free port for one, and waiting
for it to answer, then stopping it, whatever the test did."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(
    process: subprocess.Popen[bytes],
    log: Path,
    answer: Callable[[], object],
    what: str,
    seconds: float = 90,
) -> Iterator[None]:
    """Wait until ``answer()`` stops raising OSError (the test fails with ``log`` if the
    process exits or ``seconds`` pass first); on leaving, terminate the process, then kill
    it if it does not go."""
    try:
        deadline = time.monotonic() + seconds
        while True:
            if process.poll() is not None:
                pytest.fail(f"{what} exited with {process.returncode}:\n{log.read_text()}")
            try:
                answer()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{what} did not answer in {seconds:g} s:\n{log.read_text()}")
                time.sleep(0.3)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
