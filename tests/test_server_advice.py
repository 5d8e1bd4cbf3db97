"""The labadvisor API's advice routes, against a real in-process Jupyter server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from server_client import fetch_json, post, server_config


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return server_config()


async def test_runtime_advice_matches_library(jp_fetch: Any) -> None:
    from labadvisor import advise_runtime

    body: dict[str, Any] = {"model_size_gb": 40, "workload": "code-review", "gpu": None}
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 200, data
    assert data == json.loads(json.dumps(advise_runtime(**body).to_dict()))
    assert data["choice"] in ("local-cpu", "local-gpu", "offload")
    assert data["reasons"], "advice without reasons"


async def test_runtime_advice_with_params_and_dtype(jp_fetch: Any) -> None:
    body = {"params_b": 7, "dtype": "int4", "gpu": 24, "team_size": 3, "sensitive": True}
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 200, data
    assert data["size_gb"] == pytest.approx(3.5)


async def test_deployment_advice_matches_library(jp_fetch: Any) -> None:
    from labadvisor import advise_deployment

    body: dict[str, Any] = {
        "users": 40,
        "nodes": 2,
        "gpu_sharing": "mig",
        "current": "docker-compose",
    }
    status, data = await fetch_json(jp_fetch, "advise", "deployment", **post(body))
    assert status == 200, data
    assert data == json.loads(json.dumps(advise_deployment(**body).to_dict()))
    assert data["choice"] == "k3s"
    assert data["migration"] is not None


@pytest.mark.parametrize(
    ("route", "body", "names"),
    [
        # bad values: the library's message names the valid values
        ("runtime", {"model_size_gb": 7, "workload": "juggling"}, ["code-review", "training"]),
        ("runtime", {"params_b": 7, "dtype": "fp8"}, ["fp16", "int4"]),
        ("deployment", {"users": 10, "gpu_sharing": "halves"}, ["mig", "time-slicing"]),
        ("deployment", {"users": 10, "current": "swarm"}, ["docker-compose", "k3s"]),
        ("deployment", {"users": 0}, ["users"]),
        # wrong shape: the handler names the valid fields
        ("runtime", {"model_size_gb": 7, "size": 3}, ["size", "model_size_gb", "params_b"]),
        ("deployment", {"nodes": 2}, ["users"]),
    ],
)
async def test_bad_advice_input_is_400_naming_valid_values(
    jp_fetch: Any, route: str, body: dict[str, Any], names: list[str]
) -> None:
    status, data = await fetch_json(jp_fetch, "advise", route, **post(body))
    assert status == 400, data
    for name in names:
        assert name in data["message"], (name, data["message"])


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
@pytest.mark.parametrize("route", ["runtime", "deployment"])
async def test_body_must_be_a_json_object(jp_fetch: Any, route: str, raw: str) -> None:
    status, data = await fetch_json(jp_fetch, "advise", route, **post(raw))
    assert status == 400, data
    assert "JSON" in data["message"]


async def test_advice_options_are_accepted_by_the_advisers(jp_fetch: Any) -> None:
    """Every choice offered, for every input of both forms, is one the adviser accepts."""
    status, options = await fetch_json(jp_fetch, "advise", "options")
    assert status == 200, options
    base: dict[str, dict[str, Any]] = {
        "runtime": {"params_b": 1, "gpu": None},
        "deployment": {"users": 5},
    }
    assert set(options) == set(base)
    assert {"dtype", "workload"} <= set(options["runtime"])
    assert {"gpu_sharing", "current", "kubernetes_experience"} <= set(options["deployment"])
    for form, inputs in options.items():
        for name, choices in inputs.items():
            assert choices, (form, name)
            for choice in choices:
                assert set(choice) == {"label", "value"}, choice
                assert isinstance(choice["label"], str) and choice["label"], choice
                body = {**base[form], name: choice["value"]}
                status, data = await fetch_json(jp_fetch, "advise", form, **post(body))
                assert status == 200, (form, name, choice, data)


async def test_advice_options_are_the_library_options(jp_fetch: Any) -> None:
    """The REST choices are labadvisor.options' lists, labels included, not a second copy."""
    from labadvisor.options import deployment_options, runtime_options

    _, options = await fetch_json(jp_fetch, "advise", "options")
    for form, library in (("runtime", runtime_options()), ("deployment", deployment_options())):
        for name, choices in options[form].items():
            assert [(c["label"], c["value"]) for c in choices] == list(library[name])
