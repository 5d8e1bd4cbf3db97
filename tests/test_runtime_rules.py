"""advise_runtime: every rule of the decision tree at its boundaries, and bad input."""

from __future__ import annotations

import json
import math

import pytest

from labadvisor import advise_runtime


def rules(advice) -> list[str]:
    return [r.rule for r in advice.reasons]


@pytest.mark.parametrize(
    ("size", "gpu", "choice", "tier"),
    [
        (0.0, None, "local-cpu", "size.small"),
        (0.99, None, "local-cpu", "size.small"),
        (0.99, True, "local-cpu", "size.small"),
        (1.0, True, "local-gpu", "size.medium"),  # 1 GB is medium, inclusive
        (1.0, None, "offload", "size.medium"),
        (7.0, True, "local-gpu", "size.medium"),  # 7 GB still medium, inclusive
        (7.0, False, "offload", "size.medium"),
        (7.01, True, "offload", "size.large"),
        (13, None, "offload", "size.large"),
    ],
)
def test_size_tiers(size: float, gpu: object, choice: str, tier: str) -> None:
    advice = advise_runtime(size, gpu=gpu, workload="completion")
    assert advice.choice == choice
    assert advice.reasons[0].rule == tier
    assert (
        advice.reasons[0].source == "offload-vs-local.md › Decision Framework › Quick Decision Tree"
    )


def test_no_gpu_reason_fires_for_medium_models() -> None:
    advice = advise_runtime(4, gpu=False)
    assert "gpu.none" in rules(advice)
    assert advice.choice == "offload"


def test_known_free_memory_must_fit_with_headroom() -> None:
    # 5 GB needs 6 GB with 20% headroom.
    assert advise_runtime(5, gpu=6.0).choice == "local-gpu"
    small = advise_runtime(5, gpu=5.9)
    assert small.choice == "offload"
    assert "gpu.too-small" in rules(small)
    assert small.fit_margin_gb == pytest.approx(-0.1)


def test_big_local_gpu_beats_the_7gb_line_and_says_so() -> None:
    advice = advise_runtime(13, gpu=24, workload="completion")
    assert advice.choice == "local-gpu"
    assert rules(advice).count("gpu.fits") == 1
    (beyond,) = [r for r in advice.reasons if r.rule == "gpu.beyond-guide"]
    assert "assumes a typical workstation GPU" in beyond.text
    assert beyond.points_to == "local-gpu" and beyond.effect == "decided"
    # One memory model: 13 GB of weights + 10 % + the 0.5 GB CUDA context.
    assert advice.memory is not None and advice.memory.total_gb == pytest.approx(13 * 1.1 + 0.5)
    assert advice.fit_margin_gb == pytest.approx(24 - advice.memory.total_gb)


def test_a_big_gpu_holds_the_model_and_the_workload_rule_is_overridden() -> None:
    # Issue 10: the guide says to use Offload "when model requirements exceed local
    # capabilities"; a 24 GB GPU holding the model keeps complex work local, and the
    # workload rule is shown as overridden, saying why.
    advice = advise_runtime(13, gpu=24, workload="code-review")
    assert advice.choice == "local-gpu"
    assert "gpu.fits" in rules(advice)
    (workload,) = [r for r in advice.reasons if r.rule == "complexity.complex"]
    assert workload.effect == "overridden" and workload.points_to == "offload"
    assert "Not followed: the local GPU holds the 14.8 GB this needs." in workload.text
    assert advice.deciding_reason.rule == "gpu.beyond-guide"


@pytest.mark.parametrize(
    ("size_gb", "gpu", "gpu_rule"),
    [
        (0.5, None, "gpu.none"),
        (0.5, 24.0, "gpu.fits"),
        (0.5, True, "gpu.present"),
        (13, None, "gpu.none"),
        (13, True, "gpu.present"),
        (40, 24.0, "gpu.too-small"),
    ],
)
def test_every_answer_says_what_gpu_was_found_even_when_the_size_decides(
    size_gb: float, gpu: object, gpu_rule: str
) -> None:
    advice = advise_runtime(size_gb, gpu=gpu)
    (reason,) = [r for r in advice.reasons if r.rule.startswith("gpu.")]
    assert reason.rule == gpu_rule
    assert reason.points_to is None  # the size tier decided, not the GPU


@pytest.mark.parametrize(
    "workload",
    [
        "code generation",
        "Code_Review",
        "REFACTORING",
        "advanced-generation",
        "analysis",
        "production",
        "complex",
    ],
)
def test_complex_and_production_workloads_push_to_offload(workload: str) -> None:
    # from the local CPU (issue 10: the workload rule moves work off a CPU or a GPU too
    # small, never off a GPU that holds it)
    advice = advise_runtime(0.5, gpu=None, workload=workload)
    assert advice.choice == "offload"
    assert advise_runtime(0.5, gpu=0.5, workload=workload).choice == "offload"
    assert any(
        r.points_to == "offload" and r.rule.startswith("complexity.") for r in advice.reasons
    )


@pytest.mark.parametrize(
    "workload", ["completion", "Code Completion", "testing", "basic generation", "simple"]
)
def test_simple_workloads_leave_size_in_charge(workload: str) -> None:
    assert advise_runtime(0.5, gpu=None, workload=workload).choice == "local-cpu"
    assert advise_runtime(3, gpu=True, workload=workload).choice == "local-gpu"


def test_documentation_follows_size() -> None:
    assert advise_runtime(0.5, workload="documentation", gpu=None).choice == "local-cpu"
    assert advise_runtime(3, workload="documentation", gpu=True).choice == "local-gpu"
    assert advise_runtime(9, workload="documentation", gpu=None).choice == "offload"
    assert "complexity.depends" in rules(advise_runtime(3, workload="documentation", gpu=True))


def test_sensitive_never_offloads_and_warns_when_too_small() -> None:
    ok = advise_runtime(3, gpu=True, workload="code-review", sensitive=True)
    assert ok.choice == "local-gpu"
    assert "privacy.sensitive" in rules(ok)
    assert not ok.warnings
    tight = advise_runtime(13, gpu=None, sensitive=True)
    assert tight.choice == "local-cpu"
    assert any("too small" in w for w in tight.warnings)
    # Capacity is a hard limit: an 8 GB GPU cannot hold the 14.8 GB a 13 GB model needs,
    # so sensitive work stays on the CPU, warns, and names the way out (int8 fits 8 GB).
    small_gpu = advise_runtime(13, gpu=8, sensitive=True)
    assert small_gpu.choice == "local-cpu"
    assert any("too small" in w for w in small_gpu.warnings)
    assert small_gpu.ways_out[0] == "in int8 it needs 7.65 GB: fits the local GPU (8.0 GB free)"


def test_models_the_l4_cannot_hold_warn_only_when_offload_was_the_way() -> None:
    # The requirement, not the weights, must fit the L4: 20.45 GB of weights need 23 GB.
    at_limit = (23 - 0.5) / 1.1
    assert not advise_runtime(at_limit, gpu=None).warnings
    assert advise_runtime(at_limit, gpu=None).choice == "offload"
    advice = advise_runtime(at_limit + 0.01, gpu=None)
    assert advice.choice == "local-cpu"  # nothing available holds it
    assert any("23 GB" in w and "NVIDIA L4" in w for w in advice.warnings)
    assert any(w.startswith("Ways out: in int8") for w in advice.warnings)
    # A local GPU that holds it, or sensitive work that never goes to Offload: no L4 warning.
    assert not advise_runtime(23.5, gpu=80).warnings
    sensitive = advise_runtime(23.5, gpu=None, sensitive=True)
    assert not any("NVIDIA L4" in w for w in sensitive.warnings)
    assert any("too small" in w for w in sensitive.warnings)


def test_params_and_dtype_give_the_size() -> None:
    assert advise_runtime(params_b=7, dtype="fp16", gpu=None).size_gb == pytest.approx(14)
    assert advise_runtime(params_b=7, dtype="int4", gpu=None).size_gb == pytest.approx(3.5)
    assert advise_runtime(params_b=7, dtype="fp32", gpu=None).size_gb == pytest.approx(28)
    assert advise_runtime(params_b=7, dtype="bf16", gpu=None).size_gb == pytest.approx(14)
    assert advise_runtime(params_b=7, dtype="int8", gpu=None).size_gb == pytest.approx(7)
    assert advise_runtime("13GB", gpu=None).size_gb == 13


def test_costs_are_reported_never_override() -> None:
    # issue 11: without a GPU the local option is this machine's CPU, unless told otherwise.
    advice = advise_runtime(13, gpu=None, hours_per_day=6, hardware="owned-gpu")
    assert advice.choice == "offload"
    assert advice.cost is not None and advice.cost.cheaper == "local"
    assert advice.cost.breakeven_hours_per_day == pytest.approx(5.0)
    by_default = advise_runtime(13, gpu=None, hours_per_day=6)
    assert by_default.cost is not None and by_default.cost.hardware == "cpu-only"
    (cost,) = [r for r in by_default.reasons if r.rule == "cost.compare"]
    assert "cheaper" not in cost.text and "this machine's CPU" in cost.text
    assert "may be too slow" in cost.text
    with_gpu = advise_runtime(5, gpu=24.0, hours_per_day=6).cost
    assert with_gpu is not None and with_gpu.hardware == "owned-gpu"
    assert any(r.rule == "cost.compare" and r.points_to is None for r in advice.reasons)
    assert advise_runtime(13, gpu=None).cost is None


def test_team_size_adds_audience_advice_and_scales_costs() -> None:
    advice = advise_runtime(3, gpu=True, hours_per_day=2, team_size=5)
    assert "audience.small-team" in rules(advice)
    assert advice.cost is not None
    assert advice.cost.local == 375 and advice.cost.offload == 150
    assert "audience.large-org" in rules(advise_runtime(3, gpu=True, team_size=40))


def test_advice_serialises_and_renders() -> None:
    advice = advise_runtime(13, gpu=24, hours_per_day=6, workload="testing")
    data = json.loads(json.dumps(advice.to_dict()))
    assert data["choice"] == "local-gpu"
    assert {"rule", "text", "source", "effect"} <= set(data["reasons"][0])
    text = str(advice)
    assert text.startswith("Runtime advice: Local GPU") and "size.large" in text
    html = advice._repr_html_()
    assert "Local GPU" in html and "<li>" in html


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_size_gb": -1}, "model_size_gb must be at least 0, got -1"),
        ({"model_size_gb": math.nan}, "nan"),
        ({"model_size_gb": math.inf}, "inf"),
        ({"model_size_gb": "big"}, "'big' is not a size"),
        ({"params_b": -3}, "params_b"),
        ({"params_b": 7, "dtype": "fp8"}, "unknown dtype 'fp8'; valid dtypes: fp32"),
        (
            {"model_size_gb": 1, "workload": "poetry"},
            "unknown workload 'poetry'; valid workloads: code-completion",
        ),
        (
            {"model_size_gb": 1, "hours_per_day": 25},
            "hours_per_day must be between 0 and 24, got 25",
        ),
        ({"model_size_gb": 1, "hours_per_day": -1}, "hours_per_day"),
        ({"model_size_gb": 1, "team_size": 0}, "team_size"),
        ({"model_size_gb": 1, "gpu": "lots"}, "gpu must be 'auto'"),
        ({"model_size_gb": 1, "sensitive": "yes"}, "sensitive must be True or False"),
        ({}, "give the model's size"),
    ],
)
def test_bad_input_names_the_value_and_valid_ones(kwargs: dict, message: str) -> None:
    kwargs.setdefault("gpu", None)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        advise_runtime(**kwargs)
