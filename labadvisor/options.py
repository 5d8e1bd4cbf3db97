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
    from labadvisor.guides import model_facts, offload_guide
    from labadvisor.memory import TASKS

    task_labels = {
        "inference": "inference",
        "lora": "LoRA fine-tuning",
        "qlora": "QLoRA fine-tuning (4-bit base)",
        "full-finetune": "full fine-tuning",
    }
    return {
        "dtype": [(name, name) for name in model_facts().dtypes],
        "task": [(task_labels.get(task, task), task) for task in TASKS],
        "workload": [(entry.label, entry.name) for entry in offload_guide().workloads],
        "preset": [
            (f"{preset.name} ({preset.params_b:g}B)", preset.id) for preset in model_facts().presets
        ],
        "hardware": [("what the GPU check found", None), *cost_options()["hardware"]],
    }


def cost_options() -> dict[str, list[Option]]:
    """Choices for ``monthly_costs``' enumerated inputs: what "local" is."""
    from labadvisor.guides import offload_guide
    from labadvisor.offload_facts import HARDWARE

    options = offload_guide().costs.local_options
    return {"hardware": [(options[name].label, name) for name in HARDWARE]}


def deployment_options() -> dict[str, list[Option]]:
    """Choices for ``advise_deployment``'s enumerated inputs."""
    from labadvisor.guides import deployment_guide

    guide = deployment_guide()
    return {
        "gpu_sharing": [("none", None), *[(mode, mode) for mode in guide.rules.gpu_sharing.modes]],
        "kubernetes_experience": [("not stated", None), ("yes", True), ("no", False)],
        "current": [
            ("nothing yet", None),
            *[(platform.label, name) for name, platform in guide.platforms.items()],
        ],
        "current_ok": [("yes, it works", True), ("no, it is not working", False)],
        "prefer": [
            ("no preference", None),
            *[(platform.label, name) for name, platform in guide.platforms.items()],
        ],
        # The guide's "When to Consider Migration" list, by trigger id (several may be chosen).
        "migration_triggers": [
            (f"{trigger.label} ({category.category})", trigger.id)
            for category in guide.migration_triggers
            for trigger in category.triggers
        ],
        "gpu": [
            ("not stated", None),
            ("detect this machine's GPUs", "auto"),
            *[(f"{model} (MIG-capable)", model) for model in guide.mig.gpus],
        ],
    }
