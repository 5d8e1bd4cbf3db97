"""``list_contexts()``: the context store read directly, with roles and the current mark."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from labadvisor.contexts import kernel_env, store
from labadvisor.contexts.display import html_grid
from labadvisor.contexts.resolve import resolve
from labadvisor.contexts.roles import role_of


@dataclass(frozen=True)
class ContextInfo:
    """One entry of :func:`list_contexts`."""

    name: str
    host: str | None
    description: str
    tls: bool
    current: bool
    role: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        mark = " (current)" if self.current else ""
        return f"<context {self.name}{mark}: {self.role}, {self.host or 'no docker endpoint'}>"


class ContextList(list[ContextInfo]):
    """A plain list of :class:`ContextInfo` that shows as a table in a notebook."""

    def to_list(self) -> list[dict[str, Any]]:
        return [info.to_dict() for info in self]

    def _repr_html_(self) -> str:
        rows = [
            (
                info.name + (" *" if info.current else ""),
                info.role,
                info.host or "",
                "yes" if info.tls else "no",
                info.description,
            )
            for info in self
        ]
        header = ("context", "role", "endpoint", "TLS", "description")
        return html_grid("Docker contexts (* = current)", header, rows)


def list_contexts() -> ContextList:
    """Every context, "default" first, as the docker CLI's ``context ls`` would show them.

    The default entry shows a DOCKER_HOST that ``use()`` set aside, since that is where
    ``use("default")`` leads back to.
    """
    env = os.environ
    directory = store.config_dir(env)
    stored = [
        store.default_context(kernel_env.environment_with_set_aside(), directory),
        *store.read_all(directory),
    ]
    current_name = resolve(environ=env, directory=directory).name
    return ContextList(
        ContextInfo(
            name=entry.name,
            host=entry.host,
            description=entry.description,
            tls=entry.tls,
            current=entry.name == current_name,
            role=role_of(entry.name, entry.host),
        )
        for entry in stored
    )
