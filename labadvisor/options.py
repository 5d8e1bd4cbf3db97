"""The values each advice input accepts, with the label a person sees, for every surface.

Panels, the magic, the CLI and the REST API all offer choices from here, so a dropdown, an
argparse ``choices=`` and ``GET advise/options`` can never disagree with what the advisers
accept. Each option is ``(label, value)``: the pair ipywidgets' ``Dropdown(options=...)``
takes as it is.
"""

from __future__ import annotations

from typing import Any

Option = tuple[str, Any]


def runtime_options() -> dict[str, list[Option]]:
    """Choices for ``advise_runtime``'s enumerated inputs."""
    from labadvisor.guides import models_data, offload_data
    from labadvisor.memory import presets

    return {
        "dtype": [(name, name) for name in models_data()["dtypes"]],
        "workload": [(entry["label"], entry["name"]) for entry in offload_data()["workloads"]],
        "preset": [(f"{preset.name} ({preset.params_b:g}B)", preset.id) for preset in presets()],
    }


def deployment_options() -> dict[str, list[Option]]:
    """Choices for ``advise_deployment``'s enumerated inputs."""
    from labadvisor.guides import deployment_data

    data = deployment_data()
    modes = data["rules"]["gpu-sharing"]["modes"]
    return {
        "gpu_sharing": [("none", None), *[(mode, mode) for mode in modes]],
        "kubernetes_experience": [("not stated", None), ("yes", True), ("no", False)],
        "current": [
            ("nothing yet", None),
            *[(entry["label"], name) for name, entry in data["platforms"].items()],
        ],
    }
