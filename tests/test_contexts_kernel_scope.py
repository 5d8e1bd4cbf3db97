"""A kernel's own Docker context, published for the Jupyter server (contexts.kernel_scope).

The reader and the file format in this process (stand-in files, this process's and dead
processes' ids); then real ipykernel kernels, started by jupyter_client as the server starts
them, switching against the real test engines: the file appears, goes when the kernel follows
the global context again or exits, and is dropped as stale after SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_engines import isolate_docker_env, write_context
from server_fixtures import DockerStore

from labadvisor import contexts
from labadvisor.contexts import kernel_scope
from labadvisor.contexts.kernel_scope import (
    KernelContext,
    ThisKernel,
    kernel_contexts,
    process_started,
    published_path,
)
from labadvisor.usage import SqliteLedger, identity

KERNEL_ID = "0b1e6a5e-6d3c-4b59-9a57-0d0c6f6c9f11"
OTHER_ID = "7d1f00aa-1111-4222-8333-944455556666"
REPO = Path(__file__).resolve().parents[1]


def write_published(directory: Path, kernel_id: str, pid: int, **extra: Any) -> Path:
    """A context file as a kernel writes it, and that kernel's connection file."""
    (directory / f"kernel-{kernel_id}.json").write_text("{}")
    data = {
        "kernel_id": kernel_id, "pid": pid, "context": "docker-cloud", "role": "offload",
        "host": "tcp://127.0.0.1:1", "switched_at": 1000.0, "process_started": None, **extra,
    }  # fmt: skip
    path = published_path(directory, kernel_id)
    path.write_text(json.dumps(data))
    return path


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the id names no process now
    return child.pid


# --- the reader ---------------------------------------------------------------------------


def test_reader_answers_live_kernels_and_deletes_files_of_dead_ones(tmp_path: Path) -> None:
    alive = write_published(tmp_path, KERNEL_ID, os.getpid())
    dead = write_published(tmp_path, OTHER_ID, dead_pid())
    found = kernel_contexts(tmp_path)
    assert list(found) == [KERNEL_ID]
    assert found[KERNEL_ID] == KernelContext(
        KERNEL_ID, os.getpid(), "docker-cloud", "offload", "tcp://127.0.0.1:1", 1000.0
    )
    assert found[KERNEL_ID].to_dict()["context"] == "docker-cloud"
    assert alive.exists()
    assert not dead.exists()


def test_a_reused_process_id_is_not_the_kernel(tmp_path: Path) -> None:
    started = process_started(os.getpid())
    if started is None:
        pytest.skip("no /proc: process start times are unknown here")
    mine = write_published(tmp_path, KERNEL_ID, os.getpid(), process_started=started)
    reused = write_published(tmp_path, OTHER_ID, os.getpid(), process_started=started - 1)
    assert list(kernel_contexts(tmp_path)) == [KERNEL_ID]
    assert mine.exists()
    assert not reused.exists()


def test_a_zombie_is_not_alive(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while kernel_scope.process_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # exited but not reaped: a zombie until wait()
    try:
        path = write_published(tmp_path, KERNEL_ID, child.pid)
        assert kernel_contexts(tmp_path) == {}
        assert not path.exists()
    finally:
        child.wait()


def test_live_kernel_ids_filter_and_foreign_files_stay(tmp_path: Path) -> None:
    # Another server's kernel (alive, its connection file there): left out, not deleted.
    other_server = write_published(tmp_path, OTHER_ID, os.getpid())
    write_published(tmp_path, KERNEL_ID, os.getpid())
    assert list(kernel_contexts(tmp_path, live_kernel_ids=[KERNEL_ID])) == [KERNEL_ID]
    assert other_server.exists()
    assert kernel_contexts(tmp_path, live_kernel_ids=[]) == {}
    # Its connection file gone: no server runs that kernel, so the file is stale.
    (tmp_path / f"kernel-{OTHER_ID}.json").unlink()
    assert list(kernel_contexts(tmp_path)) == [KERNEL_ID]
    assert not other_server.exists()

    unrelated = {
        "labadvisor-kernel-bad.json": "not json",
        f"labadvisor-kernel-{OTHER_ID}.json": json.dumps({"kernel_id": "someone-else"}),
        "labadvisor-kernel-x.json.abc123.tmp": "{}",
        "kernel-abc.json": "{}",
    }
    for name, text in unrelated.items():
        (tmp_path / name).write_text(text)
    assert list(kernel_contexts(tmp_path)) == [KERNEL_ID]
    assert all((tmp_path / name).exists() for name in unrelated)


def test_reader_without_a_runtime_directory(tmp_path: Path, monkeypatch) -> None:
    assert kernel_contexts(tmp_path / "missing") == {}
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    write_published(tmp_path, KERNEL_ID, os.getpid())
    assert list(kernel_contexts()) == [KERNEL_ID]  # Jupyter's runtime directory by default


# --- the writer, in this process ------------------------------------------------------------


def test_publish_and_withdraw(tmp_path: Path) -> None:
    kernel = ThisKernel(KERNEL_ID, tmp_path)
    path = kernel_scope.publish(kernel, "docker-cloud", "offload", "tcp://x:1", now=5.0)
    assert path == tmp_path / f"labadvisor-kernel-{KERNEL_ID}.json"
    assert path.stat().st_mode & 0o777 == 0o600
    data = json.loads(path.read_text())
    assert data == {
        "kernel_id": KERNEL_ID, "pid": os.getpid(), "context": "docker-cloud",
        "role": "offload", "host": "tcp://x:1", "switched_at": 5.0,
        "process_started": process_started(os.getpid()),
    }  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    assert kernel_scope.withdraw(kernel)
    assert not path.exists()
    assert not kernel_scope.withdraw(kernel)


def test_withdraw_leaves_another_process_file(tmp_path: Path) -> None:
    # A restarted kernel keeps its id; the old process must not remove the new one's file.
    path = write_published(tmp_path, KERNEL_ID, os.getppid())
    assert not kernel_scope.withdraw(ThisKernel(KERNEL_ID, tmp_path))
    assert path.exists()


def test_outside_a_kernel_nothing_is_published(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_dir = isolate_docker_env(monkeypatch, tmp_path / "home")
    write_context(config_dir, "remote-x", "tcp://127.0.0.1:9")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert kernel_scope.this_kernel() is None
    with contexts.using("remote-x", check=False):
        contexts.use("default", check=False)
    assert contexts.follow_global().scope == "kernel"
    assert list(runtime.iterdir()) == []
    assert not (tmp_path / "data").exists()  # nor a ledger


def test_follow_global_puts_back_what_the_process_started_with(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_dir = isolate_docker_env(monkeypatch, tmp_path)
    write_context(config_dir, "remote-x", "tcp://127.0.0.1:9")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:7")
    monkeypatch.setattr(contexts.kernel_env, "launch", contexts.kernel_env.snapshot().values)
    assert contexts.kernel_env.follows_launch()
    contexts.use("remote-x", check=False)
    assert not contexts.kernel_env.follows_launch()
    result = contexts.follow_global()
    assert (result.context, result.previous, result.changed) == ("default", "remote-x", True)
    assert os.environ["DOCKER_HOST"] == "tcp://127.0.0.1:7"
    assert "DOCKER_CONTEXT" not in os.environ
    assert contexts.kernel_env.set_aside() == {}
    assert contexts.kernel_env.follows_launch()
    assert not contexts.follow_global().changed


# --- real kernels ---------------------------------------------------------------------------


class Kernel:
    """A real ipykernel started as the Jupyter server starts one: by a MultiKernelManager,
    with the connection file ``kernel-<id>.json`` in the runtime directory."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.multikernelmanager import MultiKernelManager

        runtime = env["JUPYTER_RUNTIME_DIR"]
        self.managers = MultiKernelManager(connection_dir=runtime, default_kernel_name="python3")
        self.kernel_id = self.managers.start_kernel(env=env)
        self.manager = self.managers.get_kernel(self.kernel_id)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    @property
    def pid(self) -> int:
        return int(self.run("import os; print(os.getpid())"))

    def run(self, code: str) -> str:
        """Run ``code``; its stdout. A Python error in the kernel fails the test."""
        out: list[str] = []
        errors: list[str] = []

        def hook(message: dict[str, Any]) -> None:
            kind, content = message["msg_type"], message["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content["traceback"]))

        reply = self.client.execute_interactive(code, timeout=120, output_hook=hook)
        assert reply["content"]["status"] == "ok", "\n".join(errors)
        return "".join(out)

    def close(self) -> None:
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel_environ(docker_store: DockerStore, tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("DOCKER_", "JUPYTER_", "JPY_"))
    }  # fmt: skip
    env.update(docker_store.env())
    env.update(
        JUPYTER_RUNTIME_DIR=str(runtime),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PYTHONPATH=str(REPO),  # this checkout's labadvisor, as the tests import it
    )
    return env


@pytest.fixture
def start_kernel(kernel_environ: dict[str, str]) -> Iterator[Any]:
    started: list[Kernel] = []

    def start() -> Kernel:
        kernel = Kernel(kernel_environ)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.close()


def ledger_contexts(env: dict[str, str], kernel_id: str) -> dict[str, tuple[str, str | None]]:
    ledger = SqliteLedger(Path(env["XDG_DATA_HOME"]) / "labadvisor" / "usage.sqlite3")
    try:
        return ledger.kernel_contexts(identity().server, [kernel_id])
    finally:
        ledger.close()


@pytest.mark.docker
@pytest.mark.slow
def test_kernel_publishes_its_switch_and_withdraws_it(
    docker_store: DockerStore, kernel_environ: dict[str, str], start_kernel: Any
) -> None:
    runtime = Path(kernel_environ["JUPYTER_RUNTIME_DIR"])
    kernel = start_kernel()
    path = published_path(runtime, kernel.kernel_id)
    assert (runtime / f"kernel-{kernel.kernel_id}.json").exists()  # where the id comes from
    kernel.run("from labadvisor import contexts")
    assert not path.exists()  # nothing before a switch

    before = time.time()
    assert kernel.run("print(contexts.use('offload').context)") == "docker-cloud\n"
    data = json.loads(path.read_text())
    assert data["switched_at"] >= before - 1
    assert {k: data[k] for k in ("kernel_id", "pid", "context", "role", "host")} == {
        "kernel_id": kernel.kernel_id, "pid": kernel.pid, "context": "docker-cloud",
        "role": "offload", "host": docker_store.engines.offload_host,
    }  # fmt: skip
    found = kernel_contexts(runtime, live_kernel_ids=[kernel.kernel_id])
    assert (found[kernel.kernel_id].context, found[kernel.kernel_id].role) == (
        "docker-cloud",
        "offload",
    )
    # Kernels record their switches in the usage ledger too.
    assert ledger_contexts(kernel_environ, kernel.kernel_id) == {
        kernel.kernel_id: ("docker-cloud", "offload")
    }

    # Back to following the global context: withdrawn, and the ledger says so.
    assert "follows the global context" in kernel.run("print(contexts.follow_global().note)")
    assert not path.exists()
    assert kernel_contexts(runtime) == {}
    assert ledger_contexts(kernel_environ, kernel.kernel_id) == {}

    # A with-block: published inside, withdrawn when it ends.
    inside = kernel.run(
        "import os\n"
        f"with contexts.using('desktop-linux'):\n"
        f"    print(open({str(path)!r}).read())\n"
        f"print(os.path.exists({str(path)!r}))\n"
    )
    assert '"context": "desktop-linux"' in inside
    assert '"role": "local"' in inside
    assert inside.rstrip().endswith("False")
    assert not path.exists()

    # Shut down as the server does: the file goes with the interpreter.
    kernel.run("contexts.use('docker-cloud')")
    assert path.exists()
    kernel.manager.shutdown_kernel(now=False)
    assert not path.exists()


@pytest.mark.docker
@pytest.mark.slow
def test_a_killed_kernel_leaves_a_stale_file_that_the_reader_drops(
    kernel_environ: dict[str, str], start_kernel: Any
) -> None:
    runtime = Path(kernel_environ["JUPYTER_RUNTIME_DIR"])
    killed, alive = start_kernel(), start_kernel()
    for kernel in (killed, alive):
        kernel.run("from labadvisor import contexts; contexts.use('docker-cloud')")
    stale = published_path(runtime, killed.kernel_id)
    assert set(kernel_contexts(runtime)) == {killed.kernel_id, alive.kernel_id}

    pid = killed.pid
    assert json.loads(stale.read_text())["pid"] == pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while kernel_scope.process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stale.exists()  # SIGKILL: no atexit, the file stays behind
    assert (runtime / f"kernel-{killed.kernel_id}.json").exists()
    live = [killed.kernel_id, alive.kernel_id]  # the server has not noticed yet
    assert list(kernel_contexts(runtime, live_kernel_ids=live)) == [alive.kernel_id]
    assert not stale.exists()


def test_a_failing_ledger_never_fails_the_switch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import labadvisor.usage

    def broken(*args: object) -> bool:
        raise RuntimeError("ledger on fire")

    monkeypatch.setattr(labadvisor.usage, "record_kernel_context", broken)
    kernel = ThisKernel(KERNEL_ID, tmp_path)
    with caplog.at_level("INFO", logger="labadvisor.contexts"):
        kernel_scope.announce(kernel, "docker-cloud", "offload", None)
    assert json.loads(kernel.path.read_text())["context"] == "docker-cloud"
    assert "not recorded (ledger on fire)" in caplog.text
    kernel_scope.announce(kernel, None, None, None)
    assert not kernel.path.exists()


def test_a_file_that_cannot_be_written_never_fails_the_switch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    kernel = ThisKernel(KERNEL_ID, tmp_path / "gone")  # the runtime directory was removed
    kernel_scope.announce(kernel, "docker-cloud", "offload", None)
    assert "could not tell the Jupyter server" in caplog.text
    assert f"{tmp_path / 'gone'}" in caplog.text
