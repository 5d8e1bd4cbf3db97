"""This process's Docker environment variables, which kernel-scope switching edits.

``DOCKER_HOST`` beats ``DOCKER_CONTEXT`` for the docker CLI and docker-py alike, so pointing the
kernel at a named context means setting ``DOCKER_HOST`` (and the TLS variables that only make
sense with it) aside. They are kept here and put back when the kernel returns to "default",
which is the context that ``DOCKER_HOST`` describes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

# DOCKER_HOST and the variables that only apply together with it.
HOST_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS")
CONTEXT_VARIABLE = "DOCKER_CONTEXT"
_WATCHED = (CONTEXT_VARIABLE, *HOST_VARIABLES)

lock = threading.RLock()
_set_aside: dict[str, str] = {}


@dataclass(frozen=True)
class Snapshot:
    values: dict[str, str | None]
    set_aside: dict[str, str]


def set_aside() -> dict[str, str]:
    """The DOCKER_HOST group removed from the environment by the last switch, if any."""
    return dict(_set_aside)


def environment_with_set_aside() -> dict[str, str]:
    """os.environ as it will be once "default" is selected again (for describing that context)."""
    env = dict(os.environ)
    if _set_aside and not env.get("DOCKER_HOST"):
        env.update(_set_aside)
    return env


def point_at(name: str) -> None:
    """Make ``name`` the context of this process (and of the subprocesses it starts)."""
    env = os.environ
    with lock:
        if name == "default":
            if _set_aside and not env.get("DOCKER_HOST"):
                env.update(_set_aside)
                # DOCKER_HOST decides again, as it did before the first switch.
                env.pop(CONTEXT_VARIABLE, None)
            else:
                # Needed even without DOCKER_HOST: config.json may name another context.
                env[CONTEXT_VARIABLE] = name
            _set_aside.clear()
            return
        if env.get("DOCKER_HOST"):
            _set_aside.clear()
            for variable in HOST_VARIABLES:
                if variable in env:
                    _set_aside[variable] = env.pop(variable)
        env[CONTEXT_VARIABLE] = name


def snapshot() -> Snapshot:
    with lock:
        return Snapshot({v: os.environ.get(v) for v in _WATCHED}, dict(_set_aside))


def restore(saved: Snapshot) -> None:
    with lock:
        for variable, value in saved.values.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        _set_aside.clear()
        _set_aside.update(saved.set_aside)
