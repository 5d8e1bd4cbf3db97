"""The runtime panel takes advise_runtime's inputs and shows the memory its fit checks used:
driven as a user would (widget values, then the state and the rendered HTML)."""

from __future__ import annotations

import html
import re

import pytest

from labadvisor import advise_runtime
from labadvisor.explain import NOT_FOLLOWED_HEADING
from labadvisor.widgets._html import escape_dollars
from labadvisor.widgets.runtime_state import RuntimeState
from labadvisor.widgets.runtime_view import RuntimePanel


def _text(markup: str) -> str:
    """What a person reads in widget HTML: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", " ", markup))


def _line(markup: str, target: str) -> str:
    """The fit line about ``target`` ("Local GPU", "Docker Offload"), as read."""
    for line in markup.split("<br>"):
        if _text(line).strip().startswith(target):
            return " ".join(_text(line).split())
    raise AssertionError(f"no line about {target} in {markup!r}")


def test_the_state_passes_every_input_of_advise_runtime():
    state = RuntimeState(
        plot=False,
        size_mode="preset",
        preset="llama-2-7b",
        dtype="bf16",
        context_tokens=2048,
        batch_size=2,
        task="lora",
        workload="code-review",
        offline=True,
        interactive=True,
        gpu=24.0,
        hours_per_day=3,
        team_size=2,
    )
    expected = advise_runtime(
        preset="llama-2-7b",
        dtype="bf16",
        context_tokens=2048,
        batch_size=2,
        task="lora",
        workload="code-review",
        offline=True,
        interactive=True,
        gpu=24.0,
        hours_per_day=3,
        team_size=2,
    )
    assert state.advice.to_dict() == expected.to_dict()
    assert state.advice.memory.batch_size == 2 and state.advice.memory.context_tokens == 2048


def test_the_defaults_are_the_apis_the_workload_assumed_and_the_full_context():
    state = RuntimeState(plot=False, gpu=None, size_mode="preset", task="qlora")
    expected = advise_runtime(preset="llama-2-7b", task="qlora", gpu=None, hours_per_day=6)
    assert state.advice.to_dict() == expected.to_dict()
    assert state.advice.workload_assumed and state.advice.workload == "training"
    assert state.advice.memory.context_tokens == 4096  # Llama-2-7B's trained context


def test_the_state_keeps_no_memory_estimate_of_its_own():
    state = RuntimeState(plot=False, gpu=16.0, size_mode="preset", preset="llama-2-13b")
    assert "memory" not in state.traits()
    assert state.advice.memory.preset == "llama-2-13b"


def test_context_and_batch_act_only_on_a_preset_and_are_checked_only_there():
    state = RuntimeState(plot=False, gpu=None, size_gb=13)
    state.set(context_tokens=-1, batch_size=0)  # not used with a bare size: not checked
    assert state.field_errors == {} and state.advice.inputs["context_tokens"] is None
    state.set(size_mode="preset")
    assert set(state.field_errors) == {"context_tokens", "batch_size"}
    state.set(context_tokens=None, batch_size=1)  # None: the preset's full context
    assert state.field_errors == {} and state.advice.memory.context_tokens == 4096
    with pytest.raises(ValueError, match="context_tokens must be an int"):
        state.set(context_tokens="long")


def test_the_panel_shows_the_estimate_its_fit_checks_used():
    # The case: the fit margin and the memory shown must come from one estimate.
    panel = RuntimePanel(
        gpu=16.0, plot=False, size_mode="preset", preset="llama-2-13b", dtype="int8"
    )
    advice = panel.state.advice
    memory = advice.memory
    fit = panel.fit.value
    assert "Memory the fit checks used" in fit
    assert escape_dollars(memory._repr_html_()) in fit  # as advice.memory renders itself
    assert f"{memory.total_gb:.2f} GB" in _text(fit)
    assert f"needs {advice.needed_gb:.1f} GB" in _text(fit)
    local = _line(fit, "Local GPU")
    assert local == (
        f"Local GPU : {'fits' if advice.fit_margin_gb >= 0 else 'does not fit'}, margin "
        f"{advice.fit_margin_gb:+.1f} GB (16.0 GB free)"
    )
    # One estimate: free memory minus the margin is what the table adds up to.
    assert 16.0 - advice.fit_margin_gb == pytest.approx(advice.needed_gb)
    assert advice.needed_gb >= memory.total_gb
    offload = _line(fit, "Docker Offload")
    assert offload.startswith("Docker Offload (NVIDIA L4) : ")
    assert f"margin {advice.offload_margin_gb:+.1f} GB (23 GB)" in offload


def test_the_fit_lines_follow_the_task_and_say_where_it_does_not_fit():
    panel = RuntimePanel(gpu=24.0, plot=False, size_mode="preset", preset="llama-2-7b")
    c = panel.controls
    assert c["context_tokens"].disabled  # the preset's full context at first
    panel.full_context.value = False
    c["context_tokens"].value = 2048
    c["task"].value = "qlora"
    assert panel.state.advice.choice == "local-gpu"
    assert "needs 5.4 GB for QLoRA fine-tuning" in _text(panel.fit.value)
    assert _line(panel.fit.value, "Local GPU").startswith("Local GPU : fits")
    assert "adapters" in _text(panel.fit.value)

    c["task"].value = "full-finetune"
    advice = panel.state.advice
    assert advice.memory.task == "full-finetune" and advice.memory.total_gb > 100
    assert _line(panel.fit.value, "Local GPU").startswith("Local GPU : does not fit")
    assert _line(panel.fit.value, "Docker Offload").startswith(
        "Docker Offload (NVIDIA L4) : does not fit"
    )
    assert "gradients + optimizer" in _text(panel.fit.value)
    assert "LoRA instead of a full fine-tune" in _text(panel.advice.value)  # a way out

    c["dtype"].value = "int4"  # a quantised base cannot be fully fine-tuned
    assert panel.state.advice is None
    assert "task='qlora'" in _text(panel.error.value)
    assert panel.fit.value == ""


def test_the_full_context_checkbox_and_the_context_box_stay_in_step_with_the_state():
    panel = RuntimePanel(gpu=None, plot=False, size_mode="preset", preset="llama-2-7b")
    box, full = panel.controls["context_tokens"], panel.full_context
    assert panel.state.context_tokens is None
    assert full.value and box.disabled and box.value == 4096
    assert full.description == "Preset's full context (4,096 tokens)"

    full.value = False  # type one: the box starts at the full context
    assert panel.state.context_tokens == 4096 and not box.disabled
    box.value = 1024
    assert panel.state.context_tokens == 1024
    assert panel.state.advice.memory.context_tokens == 1024

    panel.state.set(preset="codellama-34b")  # a typed context stays typed
    assert box.value == 1024 and full.description.endswith("(16,384 tokens)")
    full.value = True
    assert panel.state.context_tokens is None and box.value == 16384
    assert panel.state.advice.memory.context_tokens == 16384

    panel.state.context_tokens = 512  # from code: the controls follow
    assert not full.value and box.value == 512 and not box.disabled
    panel.state.set(preset="no-such-model")  # the error names it; the box keeps its number
    assert "unknown preset" in _text(panel.error.value)
    assert full.description == "Preset's full context"


def test_context_and_batch_are_shown_only_for_a_preset():
    panel = RuntimePanel(gpu=None, plot=False)
    for mode, shown in (("size", False), ("params", False), ("preset", True)):
        panel.controls["size_mode"].value = mode
        for name in ("context_tokens", "batch_size"):
            assert (panel.rows[name].layout.display is None) is shown, (mode, name)
    assert panel.full_context in panel.rows["context_tokens"].children


def test_offline_interactive_and_workload_not_given():
    panel = RuntimePanel(gpu=None, plot=False, size_gb=13)
    c = panel.controls
    assert c["workload"].label == "not given (assumed from the task)"
    assert panel.state.advice.workload_assumed
    c["workload"].value = "code-generation"
    assert panel.state.advice.choice == "offload"
    c["offline"].value = True
    assert panel.state.advice.choice != "offload"
    assert panel.state.advice.inputs["offline"] is True
    c["offline"].value = False
    panel.state.set(gpu=24.0, size_gb=5, workload="code-completion")
    c["interactive"].value = True
    assert panel.state.advice.inputs["interactive"] is True
    assert panel.state.advice.choice == "local-gpu"


def test_the_advice_shows_the_deciding_rule_first_and_the_overridden_ones_apart():
    # 13 GB of code generation on a 24 GB GPU: the local GPU holds it, so the workload
    # rule (complex work → Offload) and the size tier are not followed.
    panel = RuntimePanel(gpu=24.0, plot=False, size_gb=13, workload="code-generation")
    advice = panel.state.advice
    assert advice.choice == "local-gpu"
    assert panel.advice.value == escape_dollars(advice._repr_html_())
    text = _text(panel.advice.value)
    heading = NOT_FOLLOWED_HEADING.rstrip(":")
    decided = advice.deciding_reason.text
    overridden = [r for r in advice.reasons if r.effect == "overridden"]
    assert {r.rule for r in overridden} >= {"complexity.complex"}
    assert text.index(decided) < text.index(heading)
    for reason in overridden:
        assert text.index(heading) < text.index(reason.text)
