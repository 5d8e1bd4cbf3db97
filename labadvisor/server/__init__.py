"""Jupyter Server extension: labadvisor's JSON API under ``<base_url>/labadvisor/api/``.

Routes (all authenticated; writes honour XSRF for cookie sessions). The permission each
needs from the server's Authorizer (resource ``labadvisor``) is in brackets:

- ``GET  gpu``                  [read]  -> ``labadvisor.gpu.detect().to_dict()``, with
                                           ``read_at``; ``?refresh=1`` asks NVML again
- ``GET  config``               [read]  -> ``{"allow_context_switch": bool}``
- ``GET  contexts``             [read]  -> ``{"current": {...}, "contexts": [...],
                                           "allow_context_switch": bool}``
- ``PUT  contexts/current``     [write] -> body ``{"name": ...}`` (a context, or the role
                                           "local" / "offload"); switches config.json, as
                                           ``docker context use``; 403 when the operator
                                           set ``c.LabAdvisor.allow_context_switch = False``
- ``POST advise/runtime``       [read]  -> ``labadvisor.advise_runtime(**body).to_dict()``
- ``POST advise/deployment``    [read]  -> ``labadvisor.advise_deployment(**body).to_dict()``
- ``GET  advise/options``       [read]  -> the choices each advice form offers, with labels

Modules: ``app`` (the ``LabAdvisor`` ExtensionApp: options and worker pools), ``handlers``
(HTTP to library calls), ``work`` (the blocking calls the pools run), ``pools`` (bounded
pools, shared calls), ``limits`` (body size, nesting, numbers, strict JSON out).
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from labadvisor.server.app import LabAdvisor

    return [{"module": "labadvisor.server", "app": LabAdvisor}]
