"""Shared pytest set-up. Fixture modules live beside this file and are imported here."""

from __future__ import annotations

pytest_plugins = ("pytest_jupyter.jupyter_server",)

# Fixture modules (one per area); each import below makes its fixtures visible to all tests.
from docker_engines import docker_engines  # noqa: E402, F401
from notebook_fixtures import docker_sandbox, fake_l4  # noqa: E402, F401
from server_fixtures import docker_store  # noqa: E402, F401
