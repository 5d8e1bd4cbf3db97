"""``labadvisor.dashboard()``: the four panels in tabs."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.widgets._view import Panel
from labadvisor.widgets.context_view import ContextPanel
from labadvisor.widgets.deployment_view import DeploymentPanel
from labadvisor.widgets.gpu_view import GpuPanel
from labadvisor.widgets.runtime_view import RuntimePanel

TITLES = ("Runtime", "Deployment", "GPU", "Docker context")


class Dashboard(Panel, w.Tab):
    """Runtime, deployment, GPU and Docker-context panels. ``close()`` closes all four, which
    stops the GPU sampler and any context check still running."""

    panel_title = "labadvisor dashboard"

    def __init__(
        self,
        *,
        runtime: dict[str, Any] | None = None,
        deployment: dict[str, Any] | None = None,
        gpu: Any = "auto",
        contexts: dict[str, Any] | None = None,
    ) -> None:
        # ``gpu`` is the runtime adviser's view of the local GPU ("auto" detects it).
        self.runtime = RuntimePanel(**{"gpu": gpu, **(runtime or {})})
        self.deployment = DeploymentPanel(**(deployment or {}))
        self.gpu = GpuPanel()
        self.context = ContextPanel(**(contexts or {}))
        super().__init__(
            children=[self.runtime, self.deployment, self.gpu, self.context], titles=TITLES
        )

    @property
    def panels(self) -> tuple[RuntimePanel, DeploymentPanel, GpuPanel, ContextPanel]:
        return self.runtime, self.deployment, self.gpu, self.context

    def close(self) -> None:
        for panel in self.panels:
            panel.close()
        super().close()
