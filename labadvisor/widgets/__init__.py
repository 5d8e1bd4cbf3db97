"""Notebook panels: state objects with traits, and ipywidgets views linked to them.

The ``*_state`` modules hold the inputs, the current answer and the actions of each panel as
:class:`traitlets.HasTraits` objects; traitlets does not import ipywidgets, so tests and
scripts drive the states directly. The ``*_view`` modules build ipywidgets 8 controls and
``traitlets.link`` them to one state object each. Nothing here is imported by
``import labadvisor``; views import ipywidgets only when a panel is built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labadvisor.widgets.context_view import ContextPanel
    from labadvisor.widgets.dashboard_view import Dashboard
    from labadvisor.widgets.deployment_view import DeploymentPanel
    from labadvisor.widgets.gpu_view import GpuPanel
    from labadvisor.widgets.runtime_view import RuntimePanel
    from labadvisor.widgets.usage_view import UsagePanel

_LAZY: dict[str, str] = {
    "Dashboard": "labadvisor.widgets.dashboard_view",
    "RuntimePanel": "labadvisor.widgets.runtime_view",
    "DeploymentPanel": "labadvisor.widgets.deployment_view",
    "GpuPanel": "labadvisor.widgets.gpu_view",
    "ContextPanel": "labadvisor.widgets.context_view",
    "UsagePanel": "labadvisor.widgets.usage_view",
    "RuntimeState": "labadvisor.widgets.runtime_state",
    "DeploymentState": "labadvisor.widgets.deployment_state",
    "GpuState": "labadvisor.widgets.gpu_state",
    "ContextState": "labadvisor.widgets.context_state",
    "UsageState": "labadvisor.widgets.usage_state",
}

__all__ = [
    "ContextPanel",
    "ContextState",
    "Dashboard",
    "DeploymentPanel",
    "DeploymentState",
    "GpuPanel",
    "GpuState",
    "RuntimePanel",
    "RuntimeState",
    "UsagePanel",
    "UsageState",
    "dashboard",
]


def dashboard(**options: Any) -> Dashboard:
    """All five panels (runtime, deployment, GPU, Docker context, usage) in tabs.

    ``options`` go to :class:`~labadvisor.widgets.dashboard_view.Dashboard`, e.g. ``gpu=None``
    to advise as if this kernel had no GPU, or ``usage={"days": 7}``.
    """
    from labadvisor.widgets.dashboard_view import Dashboard

    return Dashboard(**options)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labadvisor.widgets' has no attribute {name!r}")
