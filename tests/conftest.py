"""Shared pytest set-up. Each fixture module beside this file serves one area and is loaded
as a plugin, so its fixtures are visible to every test without an import."""

from __future__ import annotations

pytest_plugins = (
    "pytest_jupyter.jupyter_server",
    "docker_engines",
    "gpu_fixtures",
    "notebook_fixtures",
    "postgres_fixtures",
    "server_fixtures",
)
