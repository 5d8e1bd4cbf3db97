"""Jupyter Server extension: labadvisor's JSON API under ``<base_url>/labadvisor/api/``.

Routes (all authenticated; writes honour XSRF for cookie sessions). The permission each
needs from the server's Authorizer (resource ``labadvisor``) is in brackets:

- ``GET  gpu``                  [read]  -> ``labadvisor.gpu.detect().to_dict()``, with
                                           ``read_at``; ``?refresh=1`` asks NVML again
- ``GET  gpu/processes``        [read]  -> who holds GPU memory, per device: the server's
                                           kernels with their notebooks (``holders``)
- ``GET  usage``                [read]  -> the Offload meter now and the usage ledger over
                                           ``?days=N`` (``meter``)
- ``GET  config``               [read]  -> ``{"allow_context_switch": bool}``
- ``GET  contexts``             [read]  -> ``{"current": {...}, "contexts": [...],
                                           "kernels": {id: {...}}, "allow_context_switch"}``
- ``PUT  contexts/current``     [write] -> body ``{"name": ...}`` (a context, or the role
                                           "local" / "offload"); switches config.json, as
                                           ``docker context use``; 403 when the operator
                                           set ``c.LabAdvisor.allow_context_switch = False``
- ``POST advise/runtime``       [read]  -> ``labadvisor.advise_runtime(**body).to_dict()``,
                                           the holders named as ``gpu/processes`` names them
- ``POST advise/deployment``    [read]  -> ``labadvisor.advise_deployment(**body).to_dict()``
- ``GET  advise/options``       [read]  -> the choices each advice form offers, with labels

Modules: ``app`` (the ``LabAdvisor`` ExtensionApp: options, worker pools, the usage ledger
and its sampler), ``handlers`` (HTTP to library calls), ``work`` (the blocking calls the
pools run), ``kernels`` (the server's kernels: pids, notebooks), ``holders`` (GPU memory
holders for the route, the runtime advice and the sampler), ``meter`` (the Offload meter,
``GET usage``'s answer), ``recording`` (the sampler's ledger, with kernels' published
contexts), ``pools`` (bounded pools, shared calls), ``limits`` (body size, nesting,
numbers, strict JSON out).
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from labadvisor.server.app import LabAdvisor

    return [{"module": "labadvisor.server", "app": LabAdvisor}]
