"""``labadvisor.dashboard()``: the five panels in tabs."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.widgets._view import Panel
from labadvisor.widgets.context_view import ContextPanel
from labadvisor.widgets.deployment_view import DeploymentPanel
from labadvisor.widgets.gpu_view import GpuPanel
from labadvisor.widgets.runtime_view import RuntimePanel
from labadvisor.widgets.usage_view import UsagePanel

TITLES = ("Runtime", "Deployment", "GPU", "Docker context", "Usage")


class Dashboard(Panel, w.Tab):
    """Runtime, deployment, GPU, Docker-context and usage panels. ``close()`` closes all
    five, which stops the GPU sampler and any context check or ledger read still running."""

    panel_title = "labadvisor dashboard"

    def __init__(
        self,
        *,
        runtime: dict[str, Any] | None = None,
        deployment: dict[str, Any] | None = None,
        gpu: Any = "auto",
        contexts: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        # ``gpu`` is the runtime adviser's view of the local GPU ("auto" detects it).
        self.runtime = RuntimePanel(**{"gpu": gpu, **(runtime or {})})
        self.deployment = DeploymentPanel(**(deployment or {}))
        self.gpu = GpuPanel()
        self.context = ContextPanel(**(contexts or {}))
        self.usage = UsagePanel(**(usage or {}))
        super().__init__(children=list(self.panels), titles=TITLES)

    @property
    def panels(self) -> tuple[RuntimePanel, DeploymentPanel, GpuPanel, ContextPanel, UsagePanel]:
        return self.runtime, self.deployment, self.gpu, self.context, self.usage

    def close(self) -> None:
        for panel in self.panels:
            panel.close()
        super().close()
