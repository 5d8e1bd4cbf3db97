"""The arbitration of advise_runtime: a table of scenarios written from the guide, each with
its expected choice, the rule that must decide it and why; and properties over every input.

Sizes alone need ``1.1 x size + 0.5 GB`` (estimate_memory: weights, 10 % for activations and
temporaries, the CUDA context). Docker Offload's L4 holds 23 GB.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labadvisor import advise_runtime, sweep
from labadvisor.guides import model_facts, offload_guide
from labadvisor.memory import TASKS
from labadvisor.runtime import workload_names

TREE = "Quick Decision Tree"
# (positional args, keyword args, choice, deciding rule, why, per the guides)
# fmt: off
SCENARIOS: list[tuple[tuple[Any, ...], dict[str, Any], str, str, str]] = [
    ((0.5,), {"gpu": None}, "local-cpu", "size.small", f"{TREE}: < 1GB → Local CPU"),
    ((0.996,), {"gpu": None}, "local-cpu", "size.small", "0.996 GB is under the 1 GB line"),
    ((0.5,), {"gpu": True}, "local-cpu", "size.small", "small models need no GPU"),
    ((0.5,), {"gpu": 24}, "local-cpu", "size.small", "simple work under 1 GB: CPU is enough"),
    ((1.0,), {"gpu": True}, "local-gpu", "size.medium", "1-7GB, Have Local GPU? → Local GPU"),
    ((1.0,), {"gpu": None}, "offload", "size.medium", "1-7GB, No Local GPU → Offload"),
    ((7.0,), {"gpu": True}, "local-gpu", "size.medium", "7 GB is still medium (inclusive)"),
    ((7.0,), {"gpu": False}, "offload", "size.medium", "medium without a GPU → Offload"),
    ((7.01,), {"gpu": True}, "offload", "size.large", "> 7GB → Offload (GPU size unknown)"),
    ((13,), {"gpu": None}, "offload", "size.large", "> 7GB → Docker Offload (L4 23GB)"),
    ((5,), {"gpu": 6.0}, "local-gpu", "gpu.fits", "the GPU holds the 6 GB it needs"),
    ((5,), {"gpu": 5.9}, "offload", "size.medium", "GPU too small: medium → Offload"),
    (
        (13,),
        {"gpu": 24, "workload": "completion"},
        "local-gpu",
        "gpu.beyond-guide",
        "Offload only when requirements exceed local capabilities",
    ),
    (
        (13,),
        {"gpu": 24, "workload": "code-generation"},
        "local-gpu",
        "gpu.beyond-guide",
        "issue 10: a 24 GB GPU (the guide's RTX 4090) holds a 13 GB model",
    ),
    (
        (),
        {"params_b": 46.7, "dtype": "int4", "workload": "code-generation", "gpu": 80},
        "local-gpu",
        "gpu.beyond-guide",
        "issue 10: Mixtral in int4 needs 26 GB; only the 80 GB GPU holds it",
    ),
    (
        (),
        {"params_b": 46.7, "dtype": "int4", "workload": "code-generation", "gpu": None},
        "local-cpu",
        "capacity.none",
        "26 GB fits neither the L4 nor a local GPU",
    ),
    ((0.5,), {"gpu": True, "workload": "code-review"}, "local-gpu", "gpu.present",
     "complex → Offload only from a CPU or a GPU too small; this one is assumed to hold it"),
    ((0.5,), {"gpu": None, "workload": "production"}, "offload", "complexity.production",
     "Production Workloads → Docker Offload"),
    ((3,), {"gpu": None, "workload": "code-review"}, "offload", "complexity.complex",
     "complex work, the local hardware is the CPU"),
    ((3,), {"gpu": True, "workload": "code-review"}, "local-gpu", "size.medium",
     "complex work, a GPU of unknown size is assumed to hold 1-7 GB: the tree's Local GPU"),
    ((9,), {"gpu": True, "workload": "code-review"}, "offload", "complexity.complex",
     "complex work over 7 GB: a GPU of unknown size is not assumed to hold it"),
    ((3,), {"gpu": 8, "workload": "code-review"}, "local-gpu", "gpu.fits",
     "complex work, but a local GPU holds it"),
    ((0.5,), {"gpu": 24, "workload": "code-review"}, "local-gpu", "gpu.fits",
     "complex work on the GPU that holds it, not the CPU"),
    ((0.5,), {"gpu": None, "workload": "code-review", "interactive": True}, "local-cpu",
     "latency.interactive", "Startup Time 30-60 s local vs 2-3 min Offload"),
    ((3,), {"gpu": True, "workload": "code-review", "interactive": True}, "local-gpu",
     "size.medium", "the GPU assumed to hold it keeps it local; interactive use agrees"),
    ((9,), {"gpu": 16, "workload": "code-review", "interactive": True}, "local-gpu",
     "gpu.beyond-guide", "Inference Speed 1-2 s local vs 3-5 s, and the GPU holds 10.4 GB"),
    ((13,), {"gpu": None, "workload": "code-review", "interactive": True}, "offload",
     "complexity.complex", "interactive, but nothing local holds 14.8 GB"),
    ((3,), {"gpu": True, "workload": "code-review", "sensitive": True}, "local-gpu",
     "size.medium", "sensitive, and the GPU assumed to hold it: local either way"),
    ((3,), {"gpu": None, "workload": "code-review", "sensitive": True}, "local-cpu",
     "privacy.sensitive", "Data privacy: code sent to cloud infrastructure"),
    ((13,), {"gpu": None, "sensitive": True}, "local-cpu", "privacy.sensitive",
     "Local development for sensitive code"),
    ((13,), {"gpu": None, "offline": True}, "local-cpu", "privacy.offline",
     "air-gapped networks → local; Offload needs stable internet"),
    ((13,), {"gpu": 24, "sensitive": True}, "local-gpu", "gpu.beyond-guide",
     "sensitive and the GPU holds it: local either way"),
    ((0.5,), {"gpu": None, "workload": "code-review", "offline": True}, "local-cpu",
     "privacy.offline", "offline beats the workload rule"),
    ((30,), {"gpu": None}, "local-cpu", "capacity.none", "33.5 GB is more than the L4's 23"),
    ((30,), {"gpu": True}, "local-cpu", "capacity.none", "a GPU of unknown size: not over 7 GB"),
    ((30,), {"gpu": 80}, "local-gpu", "gpu.beyond-guide", "the 80 GB GPU holds 33.5 GB"),
    ((9,), {"gpu": None, "workload": "documentation"}, "offload", "size.large",
     "Documentation: Local/Offload, size decides"),
    ((0.5,), {"gpu": None, "workload": "documentation"}, "local-cpu", "size.small",
     "Documentation, small model"),
    ((3,), {"gpu": True, "workload": "documentation"}, "local-gpu", "size.medium",
     "Documentation, medium model, a GPU"),
    ((), {"preset": "llama-2-13b", "dtype": "int8", "gpu": 16}, "offload", "size.large",
     "issue 10: 18.2 GB with its KV cache does not fit 16 GB"),
    ((), {"preset": "llama-2-7b", "task": "full-finetune", "gpu": None}, "local-cpu",
     "capacity.none", "16 bytes/param: 111 GB; LoRA is the way out"),
    ((), {"preset": "llama-2-7b", "task": "qlora", "gpu": 24}, "local-gpu", "gpu.fits",
     "QLoRA needs ~6 GB: the GPU holds it"),
    ((), {"preset": "llama-2-7b", "task": "lora", "gpu": None}, "offload",
     "complexity.complex", "GPU-Intensive Workloads (fine-tuning) → Offload"),
    ((), {"preset": "codellama-34b", "gpu": None}, "local-cpu", "capacity.none",
     "CodeLlama-34B in fp16 needs 78 GB"),
    (
        (),
        {"preset": "codellama-34b", "dtype": "int4", "context_tokens": 4096, "gpu": None,
         "workload": "code-generation"},
        "offload",
        "complexity.complex",
        "Advanced Code Generation: CodeLlama-34B on Offload, in int4",
    ),
    # the README's tour
    ((13,), {"workload": "code-generation", "hours_per_day": 6, "gpu": None}, "offload",
     "complexity.complex", "README: Code Generation → Offload"),
    ((), {"params_b": 7, "dtype": "int4", "gpu": 8}, "local-gpu", "gpu.fits",
     "README: 3.5 GB of weights need 4.35 GB, 8 GB free"),
    ((13,), {"gpu": 24, "workload": "testing"}, "local-gpu", "gpu.beyond-guide",
     "README: a 24 GB GPU beats the 7 GB line"),
    ((13,), {"gpu": None, "sensitive": True}, "local-cpu", "privacy.sensitive",
     "README: sensitive stays local, with a warning"),
    ((23.5,), {"gpu": None, "sensitive": True}, "local-cpu", "capacity.none",
     "too big for the L4 anyway: capacity, not privacy, decides"),
    ((5,), {"gpu": 5.9, "sensitive": True}, "local-cpu", "privacy.sensitive",
     "the L4 would hold it; privacy keeps it local"),
    ((0.5,), {"gpu": None, "team_size": 5, "hours_per_day": 8}, "local-cpu", "size.small",
     "team size and hours never change the choice"),
    ((3,), {"gpu": True}, "local-gpu", "size.medium", "assumed workload: completion"),
    ((), {"preset": "gpt2-small", "gpu": None, "workload": "code-completion"}, "local-cpu",
     "size.small", "GPT-2 variants: Rapid Prototyping, local"),
]
# fmt: on


@pytest.mark.parametrize(
    ("args", "kwargs", "choice", "rule", "why"),
    SCENARIOS,
    ids=[f"{i:02d}-{s[4][:40]}" for i, s in enumerate(SCENARIOS)],
)
def test_scenario(
    args: tuple[Any, ...], kwargs: dict[str, Any], choice: str, rule: str, why: str
) -> None:
    advice = advise_runtime(*args, **kwargs)
    assert advice.choice == choice, why
    assert advice.deciding_reason.rule == rule, why
    _check_consistent(advice)


def test_the_table_has_forty_scenarios_or_more() -> None:
    assert len(SCENARIOS) >= 40


# --- the mis-answers, one by one -------------------------------------------------


def test_a_model_the_l4_cannot_hold_is_never_sent_to_offload() -> None:
    advice = advise_runtime(params_b=46.7, dtype="int4", workload="code-generation", gpu=80)
    assert advice.memory is not None and advice.memory.weights_gb == pytest.approx(23.35)
    assert advice.needed_gb > 23 and advice.choice == "local-gpu"


def test_the_fit_check_uses_the_memory_estimate_the_panel_shows() -> None:
    advice = advise_runtime(preset="llama-2-13b", dtype="int8", gpu=16)
    assert advice.memory is not None
    assert advice.memory.total_gb == pytest.approx(18.2, abs=0.05)  # KV cache and CUDA context
    margin = advice.fit_margin_gb
    assert margin is not None and margin == pytest.approx(16 - advice.memory.total_gb)
    assert margin < 0 and advice.choice == "offload"


def test_overridden_rules_are_marked_and_say_why() -> None:
    advice = advise_runtime(0.5, gpu=None, workload="code-review")
    (tier,) = [r for r in advice.reasons if r.rule == "size.small"]
    assert tier.effect == "overridden" and tier.points_to == "local-cpu"
    assert "Not followed: the workload (Code Review) goes to Docker Offload" in tier.text
    assert "a local CPU is enough" not in str(advice)
    text = str(advice)
    assert text.index("[complexity.complex]") < text.index("Not followed (another rule decided)")
    assert text.index("Not followed (another rule decided)") < text.index("[size.small]")


def test_quantize_hints_only_point_to_smaller_dtypes_and_say_where_they_fit() -> None:
    int4 = advise_runtime(params_b=70, dtype="int4", gpu=None)
    assert not any(w.startswith("in ") for w in int4.ways_out)  # nothing smaller than int4
    assert not any("int8" in w or "int4" in w for w in int4.warnings)
    fp16 = advise_runtime(params_b=15, dtype="fp16", gpu=None)
    assert fp16.ways_out[0] == "in int8 it needs 17 GB: fits Docker Offload's NVIDIA L4 (23 GB)"
    # A model the local GPU holds, or sensitive work the L4 could hold: no quantize hint.
    assert not advise_runtime(params_b=15, gpu=80).warnings
    assert not advise_runtime(3, gpu=True, sensitive=True).warnings


def test_a_size_at_a_threshold_keeps_its_digits_and_the_default_workload_is_assumed() -> None:
    advice = advise_runtime(0.996, gpu=None)
    assert "The model takes 0.996 GB, under the guide's 1 GB line" in advice.reasons[0].text
    assert advice.workload_assumed
    assert any("(assumed: no workload was given)" in r.text for r in advice.reasons)
    given = advise_runtime(0.996, gpu=None, workload="completion")
    assert not given.workload_assumed and "assumed" not in str(given)
    assert advise_runtime(7.0001, gpu=True).reasons[0].text.startswith("The model takes 7.0001 GB")


def test_team_size_and_hours_say_what_they_mean_for_the_cost() -> None:
    alone = advise_runtime(3, gpu=True)
    team = advise_runtime(3, gpu=True, team_size=5)
    assert team.choice == alone.choice
    (audience,) = [r for r in team.reasons if r.rule == "audience.small-team"]
    assert "never changes the runtime" in audience.text and "give hours_per_day" in audience.text
    costed = advise_runtime(3, gpu=True, team_size=5, hours_per_day=6)
    (cost,) = [r for r in costed.reasons if r.rule == "cost.compare"]
    assert "never change the runtime, only what it costs" in cost.text


def test_interactive_use_is_noted_when_offload_is_chosen_for_a_model_that_runs_locally() -> None:
    advice = advise_runtime(0.5, gpu=None, workload="code-review")
    assert advice.choice == "offload"
    assert any("interactive=True" in w and "the local CPU" in w for w in advice.warnings)
    assert not advise_runtime(13, gpu=None).warnings  # nothing local holds it: no note


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_size_gb": 13, "params_b": 7}, "not model_size_gb together with params_b"),
        ({"model_size_gb": 13, "preset": "llama-2-7b"}, "not model_size_gb together with preset"),
        ({"model_size_gb": 13, "dtype": "fp8"}, "unknown dtype 'fp8'; valid dtypes: fp32"),
        ({"params_b": 1e308, "dtype": "fp32"}, "more memory than a number can hold"),
        ({"model_size_gb": 1.7e308, "task": "lora"}, "more memory than a number can hold"),
        ({"preset": "llama-2-7b", "context_tokens": 10**400}, "more memory than a number"),
        ({"model_size_gb": 1, "task": "pretraining"}, "unknown task 'pretraining'; valid"),
        ({"params_b": 7, "dtype": "int4", "task": "full-finetune"}, "use task='lora'"),
        ({"model_size_gb": 1, "offline": "yes"}, "offline must be True or False"),
        ({"model_size_gb": 1, "interactive": 1}, "interactive must be True or False"),
        ({"model_size_gb": 1, "context_tokens": -5}, "context_tokens must be a whole number"),
        ({"model_size_gb": 1, "batch_size": 0}, "batch_size must be a whole number"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("gpu", None)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        advise_runtime(**kwargs)


# --- properties over the whole input space ---------------------------------------------

_PRESETS = [p.id for p in model_facts().presets]
_gpus = st.one_of(
    st.none(),
    st.just(False),
    st.just(True),
    st.floats(min_value=0, max_value=200, allow_nan=False),
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    model = draw(st.sampled_from(["size", "params", "preset"]))
    kwargs: dict[str, Any] = {}
    if model == "size":
        kwargs["model_size_gb"] = draw(st.floats(min_value=0, max_value=200, allow_nan=False))
    elif model == "params":
        kwargs["params_b"] = draw(st.floats(min_value=0.001, max_value=100, allow_nan=False))
    else:
        kwargs["preset"] = draw(st.sampled_from(_PRESETS))
        kwargs["context_tokens"] = draw(st.none() | st.integers(0, 65536))
        kwargs["batch_size"] = draw(st.integers(1, 8))
    task = draw(st.sampled_from(TASKS))
    dtypes = ["fp32", "fp16", "bf16"] if task == "full-finetune" else list(model_facts().dtypes)
    kwargs["dtype"] = draw(st.sampled_from(dtypes))
    kwargs["task"] = task
    kwargs["workload"] = draw(st.none() | st.sampled_from(workload_names()))
    kwargs["gpu"] = draw(_gpus)
    kwargs["sensitive"] = draw(st.booleans())
    kwargs["offline"] = draw(st.booleans())
    kwargs["interactive"] = draw(st.booleans())
    kwargs["hours_per_day"] = draw(st.none() | st.floats(0, 24))
    kwargs["team_size"] = draw(st.integers(1, 50))
    return kwargs


def _holds(advice: Any, target: str) -> bool:
    """Whether ``target`` holds the requirement: the L4's memory, the local GPU's known free
    memory (one of unknown free memory is assumed to hold models the tiers send to it), and
    the CPU for models under the guide's 1 GB line."""
    guide = offload_guide()
    tier = guide.size_tier(advice.size_gb)
    if target == "offload":
        return advice.needed_gb <= guide.offload_gpu.memory_gb
    if target == "local-gpu":
        gpu = advice.gpu
        if gpu is None or not gpu.available:
            return False
        if gpu.free_gb is None:
            return tier.choice != "offload"
        return advice.needed_gb <= gpu.free_gb
    return tier.choice == "local-cpu"


def _check_consistent(advice: Any) -> None:
    effects = [r.effect for r in advice.reasons]
    assert effects.count("decided") == 1
    assert advice.deciding_reason.points_to == advice.choice
    for reason in advice.reasons:
        if reason.effect == "overridden":
            assert reason.points_to != advice.choice and "Not followed:" in reason.text
        elif reason.effect == "supports":
            assert reason.points_to == advice.choice
    json.dumps(advice.to_dict(), allow_nan=False)


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(scenarios())
def test_the_choice_holds_the_model_whenever_anything_available_does(kwargs: dict) -> None:
    advice = advise_runtime(**kwargs)
    local_only = kwargs["sensitive"] or kwargs["offline"]
    available = ["local-cpu", "local-gpu"] + ([] if local_only else ["offload"])
    if any(_holds(advice, target) for target in available):
        assert _holds(advice, advice.choice), kwargs
    assert math.isfinite(advice.needed_gb)


@_SETTINGS
@given(scenarios())
def test_sensitive_or_offline_never_gives_offload(kwargs: dict) -> None:
    kwargs["sensitive"], kwargs["offline"] = True, False
    assert advise_runtime(**kwargs).choice != "offload"
    kwargs["sensitive"], kwargs["offline"] = False, True
    assert advise_runtime(**kwargs).choice != "offload"


@_SETTINGS
@given(scenarios(), st.floats(0, 200), st.floats(0, 200))
def test_more_free_gpu_memory_never_moves_local_work_to_offload(
    kwargs: dict, free: float, more: float
) -> None:
    low = advise_runtime(**{**kwargs, "gpu": free})
    high = advise_runtime(**{**kwargs, "gpu": free + more})
    if low.choice != "offload":
        assert high.choice != "offload", (kwargs, free, more)


@_SETTINGS
@given(scenarios())
def test_every_advice_has_one_deciding_reason_and_strict_json(kwargs: dict) -> None:
    advice = advise_runtime(**kwargs)
    _check_consistent(advice)
    str(advice)
    advice._repr_html_()


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["model_size_gb", "params_b"]),
    st.lists(st.floats(0.01, 100), min_size=1, max_size=4),
    st.sampled_from(TASKS[:3]),
    st.sampled_from(["fp16", "int8"]),
    st.lists(_gpus.filter(lambda g: g is not True), min_size=1, max_size=3),
    st.booleans(),
    st.booleans(),
)
def test_sweep_takes_the_same_inputs_and_agrees(
    axis: str,
    values: list[float],
    task: str,
    dtype: str,
    gpus: list[Any],
    offline: bool,
    interactive: bool,
) -> None:
    model: dict[str, Any] = {axis: values}
    frame = sweep(
        [4],
        **model,
        dtype=dtype,
        task=task,
        gpu=gpus,
        workload=["code-review", "completion"],
        offline=offline,
        interactive=interactive,
    )
    for row in frame.itertuples():
        advice = advise_runtime(
            **{axis: getattr(row, axis)},
            dtype=dtype,
            task=task,
            gpu=gpus[[_gpu_key(g) for g in gpus].index(_gpu_key_row(row))],
            workload=str(row.workload),
            offline=offline,
            interactive=interactive,
        )
        assert row.choice == advice.choice
        assert row.needed_gb == pytest.approx(advice.needed_gb)


def _gpu_key(gpu: Any) -> tuple[bool, float]:
    if gpu is None or gpu is False:
        return (False, math.nan)
    return (True, float(gpu))


def _gpu_key_row(row: Any) -> tuple[bool, float]:
    return (bool(row.gpu_available), math.nan if math.isnan(row.gpu_free_gb) else row.gpu_free_gb)
