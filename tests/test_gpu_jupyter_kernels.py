"""labadvisor/gpu/jupyter_kernels.py: a Jupyter kernel known by its command line, and the
notebook a local Jupyter server runs it for, asked of fake servers (fake_jupyter.py) found
through a runtime directory of the test's own. Where the token may go is checked against a
server that records what reaches it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_jupyter import FakeJupyter, session
from gpu_fixtures import StartJupyter

from labadvisor.gpu import KernelInfo, jupyter_kernels
from labadvisor.gpu.jupyter_kernels import kernel_id_in, session_kernels, sessions_url
from labadvisor.gpu.procfs import Procfs

KERNEL = "5e1f0c2a-9d7b-4c1e-8f00-bbbbbbbbbbbb"
OTHER = "0c2a5e1f-9d7b-4c1e-8f00-cccccccccccc"


def my_ancestors() -> list[int]:
    return Procfs().ancestry(os.getpid())


@pytest.fixture
def stranger() -> Iterator[int]:
    """The pid of a live process that is not an ancestor of this one."""
    child = subprocess.Popen(["sleep", "60"])
    yield child.pid
    child.kill()
    child.wait()


# --- a kernel's command line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("python", "-m", "ipykernel_launcher", "-f", f"/r/kernel-{KERNEL}.json"), KERNEL),
        (("python", "-m", "ipykernel_launcher", f"--f=/r/kernel-{KERNEL}.json"), KERNEL),
        (
            ("python", "-m", "ipykernel", f"--IPKernelApp.connection_file=kernel-{KERNEL}.json"),
            KERNEL,
        ),
        (("xpython", "-f", f"/home/ana/.local/share/jupyter/runtime/kernel-{KERNEL}.json"), KERNEL),
        # A client connected to the kernel is not the kernel.
        (("python", "-m", "jupyter_console", "--existing", f"kernel-{KERNEL}.json"), None),
        (("cat", f"/r/kernel-{KERNEL}.json"), None),
        (("python", "-m", "ipykernel_launcher", "-f", "/r/config.json"), None),
        (("python", "-m", "ipykernel_launcher", "-f", "/r/kernel-.json"), None),
        (("python", "-m", "ipykernel_launcher", "-f"), None),
        (("python", "train.py", "--config", f"kernel-{KERNEL}.json"), None),
        ((), None),
    ],
)
def test_a_kernel_is_known_by_the_connection_file_it_was_given(
    arguments: tuple[str, ...], expected: str | None
) -> None:
    assert kernel_id_in(arguments) == expected


# --- where a server may be asked --------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"url": "http://localhost:8888/"}, "http://localhost:8888/api/sessions"),
        ({"url": "http://127.0.0.1:8888/a%40b/"}, "http://127.0.0.1:8888/a%40b/api/sessions"),
        ({"url": "https://[::1]:9999/lab"}, "https://[::1]:9999/lab/api/sessions"),
        (
            {"url": "http://ana:pw@localhost:8888/x?next=y#z"},
            "http://localhost:8888/x/api/sessions",
        ),
        # On every interface (jupyter_server writes the host's name): asked on loopback.
        (
            {"url": "http://a1b2c3:8888/", "hostname": "0.0.0.0"},
            "http://127.0.0.1:8888/api/sessions",
        ),
        ({"url": "http://a1b2c3:8888/", "hostname": "::"}, "http://[::1]:8888/api/sessions"),
        ({"url": "http://10.1.2.3:8888/", "hostname": "10.1.2.3"}, None),
        ({"url": "http://a1b2c3:8888/", "hostname": "a1b2c3"}, None),
        ({"url": "http://localhost.example.com:8888/"}, None),
        ({"url": "http://a1b2c3/", "hostname": "0.0.0.0"}, None),  # no port to ask on
        ({"url": "http+unix://%2Ftmp%2Fjp.sock/"}, None),
        ({"url": "ftp://localhost/"}, None),
        ({"url": "http://localhost:99999/"}, None),
        ({"url": 8888}, None),
        ({}, None),
    ],
)
def test_a_server_is_only_asked_on_its_loopback_address(
    info: dict[str, object], expected: str | None
) -> None:
    assert sessions_url(info) == expected


# --- asking the servers -----------------------------------------------------------------------


def test_the_sessions_name_each_kernels_notebook(
    runtime_dir: Path, fake_jupyter: StartJupyter
) -> None:
    server = fake_jupyter(
        sessions=[
            session(KERNEL, "work/train.ipynb"),
            session(OTHER, "eval.ipynb", kernel_name="ir"),
            {"id": "odd", "kernel": None},
            "not a session",
        ],
        base_url="/a%40b/",
    )
    server.write_server_file(runtime_dir, os.getppid())
    found = session_kernels(my_ancestors())
    assert found.problem is None
    assert dict(found.kernels) == {
        KERNEL: KernelInfo(KERNEL, "python3", "work/train.ipynb"),
        OTHER: KernelInfo(OTHER, "ir", "eval.ipynb"),
    }
    (request,) = server.requests
    assert (request.path, request.authorization) == ("/a%40b/api/sessions", "token secret-token")
    session_kernels(my_ancestors())
    assert len(server.requests) == 1  # kept for a few seconds
    jupyter_kernels.forget()
    session_kernels(my_ancestors())
    assert len(server.requests) == 2


def test_the_server_that_runs_this_process_wins(
    runtime_dir: Path, fake_jupyter: StartJupyter, stranger: int
) -> None:
    # Two servers claim one kernel (a stale file, say): the one this process descends from
    # is believed, whichever file comes first.
    ancestor = fake_jupyter(sessions=[session(KERNEL, "mine.ipynb")])
    other = fake_jupyter(sessions=[session(KERNEL, "theirs.ipynb"), session(OTHER, "b.ipynb")])
    other.write_server_file(runtime_dir, stranger, file_name="jpserver-0.json")  # read first
    ancestor.write_server_file(runtime_dir, os.getppid())
    found = session_kernels(my_ancestors())
    assert found.kernels[KERNEL].notebook_path == "mine.ipynb"
    assert found.kernels[OTHER].notebook_path == "b.ipynb"  # the other server still answers


def test_no_server_no_names_and_why(runtime_dir: Path) -> None:
    found = session_kernels(my_ancestors())
    assert dict(found.kernels) == {}
    assert found.problem is not None and "no Jupyter server of this user found" in found.problem


@pytest.mark.parametrize("whose", ["dead", "this process", "wrong token"])
def test_servers_that_cannot_answer_are_skipped(
    runtime_dir: Path, fake_jupyter: StartJupyter, whose: str
) -> None:
    server = fake_jupyter(sessions=[session(KERNEL, "train.ipynb")])
    if whose == "dead":
        pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 17
        server.write_server_file(runtime_dir, pid)
    elif whose == "this process":  # the server asking itself: it knows its own kernels
        server.write_server_file(runtime_dir, os.getpid())
    else:
        server.token = "another"
        server.write_server_file(runtime_dir, os.getppid())
        server.token = "secret-token"
    found = session_kernels(my_ancestors())
    assert dict(found.kernels) == {} and found.problem
    assert len(server.requests) == (1 if whose == "wrong token" else 0)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_another_users_server_file_is_not_used(
    runtime_dir: Path, fake_jupyter: StartJupyter
) -> None:
    server = fake_jupyter(sessions=[session(KERNEL, "train.ipynb")])
    path = server.write_server_file(runtime_dir, os.getppid())
    os.chown(path, 4321, -1)
    assert dict(session_kernels(my_ancestors()).kernels) == {}
    assert server.requests == []


def test_a_hanging_server_costs_half_a_second_once(
    runtime_dir: Path, fake_jupyter: StartJupyter
) -> None:
    server = fake_jupyter(hang=True)
    server.write_server_file(runtime_dir, os.getppid())
    started = time.monotonic()
    found = session_kernels(my_ancestors())
    took = time.monotonic() - started
    assert took < jupyter_kernels.LOOKUP_BUDGET_S + 0.5, took
    assert dict(found.kernels) == {}
    assert found.problem is not None and "answer" in found.problem
    started = time.monotonic()
    again = session_kernels(my_ancestors())
    assert time.monotonic() - started < 0.1  # the lack of an answer is kept too
    assert again.problem == found.problem and len(server.requests) == 1


# --- the token stays with its server ----------------------------------------------------------


def this_hosts_addresses() -> list[str]:
    """Addresses of this machine that are not localhost, 127.0.0.1 or ::1 and on which a
    server listening on every interface is reached: 127.0.0.2 (Linux routes 127/8 to
    loopback) and the host name's address where it has one."""
    found = ["127.0.0.2"]
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        address = None
    if address and address not in ("127.0.0.1", *found):
        found.append(address)
    return found


@pytest.fixture
def catcher(fake_jupyter: StartJupyter) -> FakeJupyter:
    """A server on every interface that records whatever reaches it, tokens included."""
    return fake_jupyter(host="0.0.0.0", token="never-this")


def reached(catcher: FakeJupyter, url: str) -> bool:
    """Whether a request to ``url`` (sent without a token) arrives at ``catcher``: what
    makes the checks below able to fail."""
    before = len(catcher.requests)
    with contextlib.suppress(OSError):  # its 403 (no token) is an answer too
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5)
    return len(catcher.requests) > before


@pytest.mark.parametrize("host", this_hosts_addresses())
def test_the_token_never_goes_to_an_address_that_is_not_loopback(
    runtime_dir: Path, catcher: FakeJupyter, host: str
) -> None:
    url = catcher.url(host)
    assert reached(catcher, url + "api/sessions")
    catcher.requests.clear()
    catcher.write_server_file(runtime_dir, os.getppid(), url=url, hostname=host)
    found = session_kernels(my_ancestors())
    assert catcher.requests == []
    assert dict(found.kernels) == {}


def test_a_redirect_does_not_carry_the_token_away(
    runtime_dir: Path, fake_jupyter: StartJupyter, catcher: FakeJupyter
) -> None:
    away = catcher.url("127.0.0.2") + "api/sessions"
    assert reached(catcher, away)
    catcher.requests.clear()
    local = fake_jupyter(redirect_to=away)
    local.write_server_file(runtime_dir, os.getppid())
    found = session_kernels(my_ancestors())
    assert len(local.requests) == 1
    assert catcher.requests == []
    assert dict(found.kernels) == {} and found.problem


def test_a_proxy_from_the_environment_never_sees_the_token(
    runtime_dir: Path,
    fake_jupyter: StartJupyter,
    catcher: FakeJupyter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = catcher.url("127.0.0.1")
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = fake_jupyter(sessions=[session(KERNEL, "train.ipynb")])
    # urllib's default opener would send this request through the "proxy" (a new one:
    # urlopen() keeps the first opener it built, with the proxies of that moment).
    before = len(catcher.requests)
    with contextlib.suppress(OSError):
        urllib.request.build_opener().open(server.url() + "api/sessions", timeout=5)
    assert len(catcher.requests) == before + 1
    catcher.requests.clear()
    server.write_server_file(runtime_dir, os.getppid())
    found = session_kernels(my_ancestors())
    assert found.kernels[KERNEL].notebook_path == "train.ipynb"
    assert catcher.requests == []
