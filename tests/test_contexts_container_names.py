"""labadvisor/contexts/container_names.py: a container's name from the engine of the current
Docker context, against stand-in engines (docker_engines.FakeEngine answers
/containers/<id>/json from its ``containers``; 404 for any other id). A missing container
is just unnamed; only an engine that does not answer pauses the asking."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_engines import FakeEngine, closed_port, isolate_docker_env

from labadvisor.contexts.container_names import ContainerNames

WEB = "3f" * 32
GONE = "ab" * 32
BROKEN = "cd" * 32


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def docker_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No context store, no DOCKER_* from the shell: "default" is whatever DOCKER_HOST says."""
    isolate_docker_env(monkeypatch, tmp_path)
    return monkeypatch


@pytest.fixture
def engine(docker_env: pytest.MonkeyPatch) -> Iterator[FakeEngine]:
    """The current context's engine: it knows WEB as "web" and fails BROKEN with a 500."""
    with FakeEngine(containers={WEB: "web", BROKEN: 500}) as fake:
        docker_env.setenv("DOCKER_HOST", fake.host)
        yield fake


def asked(engine: FakeEngine) -> list[str]:
    """The containers the engine was asked about, in order."""
    return [p.split("/")[-2] for p in engine.requests if "/containers/" in p]


def test_a_container_is_named_and_the_name_is_kept(engine: FakeEngine) -> None:
    clock = Clock()
    with ContainerNames(clock=clock) as names:
        assert names(WEB) == "web"
        assert names(WEB) == "web"
        assert asked(engine) == [WEB]  # kept: the engine is asked once
        clock.now += names.remember_s + 1
        assert names(WEB) == "web"
        assert asked(engine) == [WEB, WEB]  # kept for remember_s only


def test_no_such_container_is_unnamed_and_does_not_stop_the_asking(engine: FakeEngine) -> None:
    with ContainerNames() as names:
        assert names(GONE) is None  # 404 from the engine
        assert not names.paused
        assert names(WEB) == "web"  # the next container is still asked for
        assert names(GONE) is None
        assert asked(engine) == [GONE, WEB]  # the 404 is kept too


def test_an_engine_error_is_unnamed_without_pausing(engine: FakeEngine) -> None:
    with ContainerNames() as names:
        assert names(BROKEN) is None  # 500: the engine answered
        assert not names.paused
        assert names(WEB) == "web"
        assert names(BROKEN) is None
        assert asked(engine) == [BROKEN, WEB, BROKEN]  # not kept: asked again


def test_an_unreachable_engine_pauses_the_asking(docker_env: pytest.MonkeyPatch) -> None:
    docker_env.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed_port()}")
    clock = Clock()
    names = ContainerNames(clock=clock, pause_s=30.0)
    assert names(WEB) is None
    assert names.paused
    with FakeEngine(containers={WEB: "web"}) as fake:
        docker_env.setenv("DOCKER_HOST", fake.host)
        assert names(WEB) is None  # paused: not asked, not even the new engine
        assert fake.requests == []
        clock.now += 31
        assert not names.paused
        assert names(WEB) == "web"
        names.close()


def test_an_unreachable_engine_leaves_the_known_names(docker_env: pytest.MonkeyPatch) -> None:
    with FakeEngine(containers={WEB: "web"}) as fake:
        docker_env.setenv("DOCKER_HOST", fake.host)
        names = ContainerNames()
        assert names(WEB) == "web"
    docker_env.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed_port()}")
    assert names(GONE) is None  # the context's engine does not answer: not a 404
    assert names.paused
    assert names(WEB) == "web"  # still known
    names.close()


def test_a_hung_engine_costs_at_most_the_timeout_then_pauses(
    docker_env: pytest.MonkeyPatch,
) -> None:
    with FakeEngine(hang=True) as hung:
        docker_env.setenv("DOCKER_HOST", hung.host)
        names = ContainerNames(timeout_s=0.5)
        started = time.monotonic()
        assert names(WEB) is None
        assert time.monotonic() - started < 2 * 0.5 + 1.5
        assert names.paused
        started = time.monotonic()
        assert names(GONE) is None
        assert time.monotonic() - started < 0.1  # paused: no wait at all
        names.close()


def test_a_context_that_does_not_exist_is_unnamed_not_an_error(
    docker_env: pytest.MonkeyPatch,
) -> None:
    docker_env.setenv("DOCKER_CONTEXT", "no-such-context")
    names = ContainerNames()
    assert names(WEB) is None
    assert names.paused


def test_the_engine_asked_is_the_current_contexts(docker_env: pytest.MonkeyPatch) -> None:
    with (
        FakeEngine(containers={WEB: "web"}) as first,
        FakeEngine(containers={GONE: "api"}) as second,
    ):
        docker_env.setenv("DOCKER_HOST", first.host)
        with ContainerNames() as names:
            assert names(WEB) == "web"
            docker_env.setenv("DOCKER_HOST", second.host)
            assert names(GONE) == "api"  # the engine in effect now is asked
            assert names(WEB) == "web"  # an id names one container: kept
        assert (asked(first), asked(second)) == ([WEB], [GONE])


def test_importing_it_does_not_import_docker() -> None:
    code = "import sys, labadvisor.contexts.container_names\nprint('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
