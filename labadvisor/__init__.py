"""labadvisor: decide where notebook AI/ML work runs, and how a multi-user lab is deployed.

The public names below resolve lazily, so ``import labadvisor`` stays cheap and never
pulls in pandas, matplotlib, ipywidgets, docker or pynvml.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

try:
    # Written by the build (hatch's version hook) from jupyter_ext/package.json, the one
    # place the version is set; `pip install` (editable too) and `make install` create it.
    from labadvisor._version import __version__
except ImportError:  # a source tree that was never built or installed
    import warnings

    warnings.warn(
        "labadvisor is imported from a source tree that was never installed, so its version "
        "is unknown; run `make install` (or `pip install -e .`)",
        stacklevel=2,
    )
    __version__ = "dev"

# public name -> module that defines it
_LAZY_ATTRIBUTES: dict[str, str] = {
    "advise_runtime": "labadvisor.runtime",
    "RuntimeAdvice": "labadvisor.runtime",
    "advise_deployment": "labadvisor.deployment",
    "DeploymentAdvice": "labadvisor.deployment",
    "MigrationPlan": "labadvisor.deployment",
    "Reason": "labadvisor.explain",
    "monthly_costs": "labadvisor.costs",
    "breakeven_hours_per_day": "labadvisor.costs",
    "CostComparison": "labadvisor.costs",
    "sweep": "labadvisor.sweep",
    "configure": "labadvisor.guides",
    "estimate_memory": "labadvisor.memory",
    "fits": "labadvisor.memory",
    "dashboard": "labadvisor.widgets",
}
_LAZY_SUBMODULES = frozenset(
    {
        "contexts",
        "costs",
        "deployment",
        "gpu",
        "guides",
        "matrices",
        "memory",
        "plots",
        "runtime",
        "usage",
    }
)

__all__ = [
    "CostComparison",
    "DeploymentAdvice",
    "MigrationPlan",
    "Reason",
    "RuntimeAdvice",
    "__version__",
    "advise_deployment",
    "advise_runtime",
    "breakeven_hours_per_day",
    "configure",
    "contexts",
    "costs",
    "dashboard",
    "deployment",
    "estimate_memory",
    "fits",
    "gpu",
    "guides",
    "matrices",
    "memory",
    "monthly_costs",
    "plots",
    "runtime",
    "sweep",
    "usage",
]

if TYPE_CHECKING:
    from labadvisor.costs import CostComparison, breakeven_hours_per_day, monthly_costs
    from labadvisor.deployment import DeploymentAdvice, MigrationPlan, advise_deployment
    from labadvisor.explain import Reason
    from labadvisor.guides import configure
    from labadvisor.memory import estimate_memory, fits
    from labadvisor.runtime import RuntimeAdvice, advise_runtime
    from labadvisor.sweep import sweep
    from labadvisor.widgets import dashboard


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRIBUTES:
        value = getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    elif name in _LAZY_SUBMODULES:
        value = importlib.import_module(f"labadvisor.{name}")
    else:
        raise AttributeError(f"module 'labadvisor' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_ipython_extension(ipython: Any) -> None:
    """Entry point for ``%load_ext labadvisor``."""
    from labadvisor.magic import load_ipython_extension as load

    load(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    # Called only by Jupyter Server, so importing the extension here costs a plain import nothing.
    from labadvisor.server import _jupyter_server_extension_points as points

    return points()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "labadvisor"}]
