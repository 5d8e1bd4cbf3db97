"""The notebook panels, driven as a user would: set widget values, click buttons, then read
the state objects and the rendered HTML. No browser and no kernel are needed."""

from __future__ import annotations

import ast
import gc
import html
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import ipywidgets
import pytest
from unprivileged import give_away, run_unprivileged, shared_dir

import labadvisor
from labadvisor import advise_deployment, advise_runtime
from labadvisor.widgets import dashboard
from labadvisor.widgets._html import esc, escape_dollars
from labadvisor.widgets._jobs import BackgroundJobs
from labadvisor.widgets._view import INVALID_CLASS, OUTDATED_CLASS
from labadvisor.widgets.context_state import THREAD_NAME as CONTEXT_THREAD
from labadvisor.widgets.context_view import ContextPanel
from labadvisor.widgets.deployment_state import DeploymentState
from labadvisor.widgets.deployment_view import DeploymentPanel
from labadvisor.widgets.gpu_state import THREAD_NAME as GPU_THREAD
from labadvisor.widgets.gpu_state import GpuState, stop_all
from labadvisor.widgets.gpu_view import THIS_KERNEL_CLASS, GpuPanel
from labadvisor.widgets.runtime_state import RuntimeState
from labadvisor.widgets.runtime_view import RuntimePanel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def thread_names() -> list[str]:
    return [t.name for t in threading.enumerate()]


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# ------------------------------------------------------------------ state modules


def test_state_modules_do_not_import_ipywidgets():
    code = (
        "import sys\n"
        "import labadvisor.widgets\n"
        "from labadvisor.widgets import runtime_state, deployment_state, gpu_state, "
        "context_state, usage_state\n"
        "heavy = [m for m in ('ipywidgets', 'matplotlib', 'pandas', 'docker') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ background jobs


def test_background_jobs_run_in_order_and_leave_no_thread():
    changes: list[str | None] = []
    jobs = BackgroundJobs("labadvisor-test-jobs", on_change=lambda: changes.append(jobs.current))
    release = threading.Event()
    first = jobs.submit("first", lambda: release.wait(5) and "one")
    second = jobs.submit("second", lambda: 1 / 0)
    assert jobs.busy and "labadvisor-test-jobs" in thread_names()
    release.set()
    assert jobs.wait(5)
    assert first.result() == "one" and isinstance(second.exception(), ZeroDivisionError)
    assert changes[0] == "first" and "second" in changes and changes[-1] is None
    assert not jobs.busy and "labadvisor-test-jobs" not in thread_names()


def test_background_jobs_latest_wins_within_a_group():
    jobs = BackgroundJobs("labadvisor-test-jobs")
    started, release = threading.Event(), threading.Event()
    done: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(5)
        return "a"

    running = jobs.submit("a", slow, group="plot", on_done=lambda f: done.append(f.result()))
    assert started.wait(5)
    queued = jobs.submit("b", lambda: "b", group="plot", on_done=lambda f: done.append(f.result()))
    newest = jobs.submit("c", lambda: "c", group="plot", on_done=lambda f: done.append(f.result()))
    release.set()
    assert jobs.wait(5)
    assert queued.cancelled()  # superseded before it started: never run
    assert running.result() == "a" and newest.result() == "c"
    assert done == ["c"]  # the older answer, finished later than asked, is not delivered


# ------------------------------------------------------------------ runtime panel


def test_runtime_state_matches_the_api_and_tells_observers():
    state = RuntimeState(gpu=None, plot=False, size_gb=13, workload="code-generation")
    heard: list[str] = []
    state.observe(lambda change: heard.append(change["name"]), names="advice")
    expected = advise_runtime(13, gpu=None, workload="code-generation", hours_per_day=6)
    assert state.advice.to_dict() == expected.to_dict()

    state.set(size_gb=0.5, workload="testing")
    assert heard == ["advice"]
    assert state.advice.choice == "local-cpu"
    state.set(size_gb=0.5)  # no change, no notification
    assert heard == ["advice"]


def test_runtime_state_keeps_bad_input_and_reports_the_library_message():
    state = RuntimeState(gpu=None, plot=False)
    # A value in range that the library rejects (typed numbers out of range are the
    # state's own field errors: see the tests below).
    state.set(size_mode="params", params_b=3, gpu=-3)
    assert state.advice is None and state.gpu == -3
    assert "gpu must be" in state.error and "at least 0" in state.error
    state.set(gpu=None)
    assert state.error is None and state.advice.size_gb == pytest.approx(6.0)
    with pytest.raises(ValueError, match="unknown runtime input"):
        state.set(model="13GB")
    with pytest.raises(ValueError, match="size_mode must be one of"):
        state.set(size_mode="weights")
    with pytest.raises(ValueError, match="team_size must be an int, got 'five'"):
        state.set(team_size="five")


def test_runtime_panel_updates_live_from_its_controls():
    panel = RuntimePanel(gpu=None)
    c = panel.controls
    assert "Docker Offload" in panel.advice.value  # 13 GB, no GPU
    # The advice as it renders itself in any notebook cell, not a second rendering.
    assert panel.advice.value == escape_dollars(panel.state.advice._repr_html_())

    c["size_gb"].value = 0.5
    assert panel.state.advice.choice == "local-cpu"
    assert "Local CPU" in panel.advice.value
    # Reasons show the guide section they come from.
    assert "offload-vs-local.md › Decision Framework › Quick Decision Tree" in panel.advice.value

    c["workload"].value = "code-generation"
    assert panel.state.advice.choice == "offload"

    c["sensitive"].value = True
    assert panel.state.advice.choice == "local-cpu"
    assert "[sensitive" in panel.advice.value or "sensitive" in panel.advice.value.lower()

    c["sensitive"].value = False
    c["size_gb"].value = 30
    assert "Warnings" in panel.advice.value and "23 GB" in panel.advice.value

    c["hours_per_day"].value = 2
    c["team_size"].value = 5
    assert panel.state.advice.cost.team_size == 5
    assert "Offload $150.00" in _text(panel.advice.value)


def test_runtime_panel_shows_the_gpu_fit_margin():
    panel = RuntimePanel(gpu=12.0, size_gb=5)
    advice = panel.state.advice
    assert advice.choice == "local-gpu"
    assert f"{advice.fit_margin_gb:+.1f} GB" in panel.fit.value
    assert "fits" in panel.fit.value

    panel.controls["size_gb"].value = 11
    assert panel.state.advice.fit_margin_gb < 0
    assert "does not fit" in panel.fit.value

    panel.controls["gpu"].label = "no local GPU"
    assert panel.state.gpu is None
    assert "not checked" in panel.fit.value and "no local GPU" in panel.fit.value


def test_runtime_panel_params_and_presets():
    panel = RuntimePanel(gpu=None)
    c = panel.controls
    c["size_mode"].value = "params"
    assert c["size_gb"].layout.display == "none" and c["params_b"].layout.display is None
    c["params_b"].value = 7
    c["dtype"].value = "int4"
    assert panel.state.advice.size_gb == pytest.approx(3.5)
    assert "Memory the fit checks used" in panel.fit.value

    c["size_mode"].value = "preset"
    c["preset"].value = "codellama-34b"
    c["dtype"].value = "fp16"
    assert panel.state.advice.size_gb == pytest.approx(67.48, abs=0.01)
    assert "CodeLlama-34B" in panel.fit.value and "KV cache" in panel.fit.value

    panel.state.set(preset="no-such-model")  # a value the dropdown cannot show
    assert "unknown preset 'no-such-model'" in panel.error.value.replace("&#x27;", "'")
    assert panel.advice.value == ""
    assert c["preset"].value == "codellama-34b"


def test_runtime_panel_follows_state_changes_made_in_code():
    panel = RuntimePanel(gpu=None)
    panel.state.set(size_gb=2.5, workload="testing", sensitive=True)
    assert panel.controls["size_gb"].value == 2.5
    assert panel.controls["workload"].value == "testing"
    assert panel.controls["sensitive"].value is True
    panel.state.gpu = 8.0  # a trait set directly, not through set()
    assert panel.controls["gpu"].label == "local GPU, 8 GB free"


def test_dropdowns_show_a_label_for_none():
    runtime = RuntimePanel(gpu=None, plot=False)
    assert runtime.controls["gpu"].label == "no local GPU"
    assert runtime.controls["hardware"].label == "what the GPU check found"
    deployment = DeploymentPanel()
    labels = {
        name: control.label
        for name, control in deployment.controls.items()
        if isinstance(control, ipywidgets.Dropdown)
    }
    assert labels == {
        "gpu_sharing": "none",
        "gpu_count": "not stated",
        "kubernetes_experience": "not stated",
        "current": "nothing yet",
        "prefer": "no preference",
    }
    sharing = deployment.controls["gpu_sharing"]
    sharing.label = "mig"
    assert deployment.state.gpu_sharing == "mig"
    sharing.label = "none"
    assert deployment.state.gpu_sharing is None and sharing.label == "none"
    deployment.state.set(current="compose")  # an alias: the control shows the platform
    assert deployment.controls["current"].value == "docker-compose"
    deployment.state.set(current=None)
    assert deployment.controls["current"].label == "nothing yet"


def test_breakeven_plot_is_drawn_in_the_background_and_follows_the_inputs():
    panel = RuntimePanel(gpu=None, hours_per_day=3)
    assert panel.state.wait_for_plot(30)
    first = bytes(panel.plot.value)
    assert first.startswith(PNG_MAGIC)
    assert panel.plot.layout.display is None

    panel.controls["hours_per_day"].value = 9
    assert panel.state.plot_pending  # the old plot stays until the new one is drawn
    assert "drawing the break-even plot" in panel.plot_status.value
    assert panel.state.wait_for_plot(30)
    second = bytes(panel.plot.value)
    assert second.startswith(PNG_MAGIC) and second != first
    assert panel.plot_status.value == ""

    panel.controls["hours_per_day"].value = 3  # drawn before: straight from the cache
    assert bytes(panel.plot.value) == first and not panel.state.plot_pending
    assert wait_until(lambda: "labadvisor-plot" not in thread_names())


def test_runtime_update_is_well_under_50_ms():
    panel = RuntimePanel(gpu=None)
    times = []
    for i in range(20):
        start = time.perf_counter()
        panel.controls["size_gb"].value = 1 + i % 10
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.050


# ------------------------------------------------------------------ deployment panel


def test_deployment_panel_choice_reasons_and_migration():
    panel = DeploymentPanel(users=20)
    assert panel.state.advice.to_dict() == advise_deployment(20).to_dict()
    assert "Docker Compose" in panel.advice.value
    assert "Migration" not in panel.advice.value and panel.checklist.layout.display == "none"

    panel.controls["users"].value = 80
    panel.controls["current"].value = "docker-compose"
    assert "K3s" in panel.advice.value
    assert "compose-vs-k3s.md" in panel.advice.value
    assert panel.advice.value == escape_dollars(panel.state.advice._repr_html_())
    # Steps with their durations, and the guide's total.
    assert "Backup Everything" in panel.advice.value
    assert "30 min" in panel.advice.value and "1 h-2 h" in panel.advice.value
    assert "Total (guide): 3-4 h" in panel.advice.value
    assert len(panel.checklist.children) == 6
    assert "0 of 6 done" in panel.checklist_title.value


def test_the_plans_static_checklist_is_hidden_where_the_checkboxes_show():
    panel = DeploymentPanel(users=80, current="compose")
    items = [item["item"] for item in panel.state.checklist]
    # The advice renders as everywhere else, static list included ...
    assert panel.advice.value == escape_dollars(panel.state.advice._repr_html_())
    static = "".join(f"<li>☐ {html.escape(item)}</li>" for item in items)
    # The static list sits inside the element the panel's rule targets (this fails if the
    # plan's markup drops the class, leaving the rule to hide nothing).
    wrapped = "<div class='labadvisor-checklist'><b>Checklist</b><ul style='list-style:none'>"
    assert f"{wrapped}{static}</ul></div>" in panel.advice.value
    # ... and the panel's rule hides that markup inside its advice box only.
    assert "labadvisor-deployment-advice" in panel.advice._dom_classes
    rule = panel.checklist_style.value
    assert rule == (
        "<style>.labadvisor-deployment-advice .labadvisor-checklist{display:none}</style>"
    )
    assert ":has(" not in rule
    assert panel.checklist_style in panel.answer.children
    # Once each: the only other place an item's text appears is its checkbox.
    for item in items:
        assert [box.description for box in panel.checklist_boxes.values()].count(item) == 1


def test_checklist_ticks_live_in_the_state_and_survive_input_changes(tmp_path: Path):
    store = tmp_path / "checklist.json"
    panel = DeploymentPanel(DeploymentState(users=80, current="compose", checklist_file=store))
    panel.checklist_boxes["check.dns"].value = True
    panel.checklist_boxes["check.window"].value = True
    assert panel.state.checked == {"check.dns": True, "check.window": True}
    assert "2 of 6 done" in panel.checklist_title.value

    panel.controls["users"].value = 10  # Compose again: no migration, no checklist
    assert panel.state.checklist == [] and panel.checklist.layout.display == "none"
    panel.controls["users"].value = 90  # the migration is back, with the same ticks
    assert panel.checklist_boxes["check.dns"].value is True
    assert panel.checklist_boxes["check.stable"].value is False

    # Kept on disk, so a new kernel sees them.
    assert json.loads(store.read_text()) == {"check.dns": True, "check.window": True}
    again = DeploymentState(users=80, current="compose", checklist_file=store)
    assert [i["id"] for i in again.checklist if i["done"]] == ["check.dns", "check.window"]
    for item in again.checklist:
        again.check(item["id"])
    assert again.ready_to_migrate


def test_checklist_rejects_unknown_items_and_bad_files(tmp_path: Path):
    state = DeploymentState(users=80, current="compose")
    with pytest.raises(ValueError, match=r"unknown checklist item 'check\.nope'.*check\.dns"):
        state.check("check.nope")
    no_migration = DeploymentState(users=10)
    with pytest.raises(ValueError, match="no migration is advised"):
        no_migration.check("check.dns")
    bad = tmp_path / "bad.json"
    bad.write_text('{"check.dns": "yes"}')
    with pytest.raises(ValueError, match="true/false"):
        DeploymentState(checklist_file=bad)


TICKER = """
import sys
from labadvisor.widgets.deployment_state import DeploymentState
path, item, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
state = DeploymentState(users=80, current="compose", checklist_file=path)
for _ in range(rounds):
    state.check(item, False)
    state.check(item, True)
"""


def test_processes_ticking_one_checklist_file_never_fail_or_lose_a_tick(tmp_path: Path):
    store = tmp_path / "checklist.json"
    items = [item["id"] for item in DeploymentState(users=80, current="compose").checklist]
    env = {**os.environ, "PYTHONPATH": str(Path(labadvisor.__file__).parent.parent)}
    tickers = [
        subprocess.Popen(
            [sys.executable, "-c", TICKER, str(store), item, "15"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for item in items
    ]
    for ticker in tickers:
        _, err = ticker.communicate(timeout=60)
        assert ticker.returncode == 0, err
    assert len(items) >= 4
    assert json.loads(store.read_text()) == dict.fromkeys(items, True)
    assert DeploymentState(users=80, current="compose", checklist_file=store).ready_to_migrate
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checklist.json", "checklist.json.lock"]


def test_a_tick_keeps_what_other_processes_ticked_meanwhile(tmp_path: Path):
    store = tmp_path / "checklist.json"
    mine = DeploymentState(users=80, current="compose", checklist_file=store)
    theirs = DeploymentState(users=80, current="compose", checklist_file=store)
    theirs.check("check.dns")
    mine.check("check.window")
    assert json.loads(store.read_text()) == {"check.dns": True, "check.window": True}
    assert mine.checked == {"check.dns": True, "check.window": True}


def test_a_checklist_file_in_a_missing_directory_is_refused_at_construction(tmp_path: Path):
    missing = tmp_path / "not-there"
    with pytest.raises(ValueError, match=f"the directory {missing} does not exist"):
        DeploymentState(users=80, checklist_file=missing / "checklist.json")
    with pytest.raises(ValueError, match=f"the directory {missing} does not exist"):
        DeploymentPanel(users=80, checklist_file=missing / "checklist.json")
    with pytest.raises(ValueError, match="is a directory"):
        DeploymentState(checklist_file=tmp_path)


def test_a_broken_checklist_file_is_refused_not_overwritten(tmp_path: Path):
    broken = tmp_path / "checklist.json"
    broken.write_text('{"check.dns": tru')
    with pytest.raises(ValueError, match=f"checklist file {broken} is not valid JSON"):
        DeploymentState(users=80, current="compose", checklist_file=broken)
    state = DeploymentState(users=80, current="compose", checklist_file=tmp_path / "ok.json")
    state.checklist_file = broken  # broken after the panel started: the tick is refused
    with pytest.raises(ValueError, match="is not valid JSON"):
        state.check("check.dns")
    assert broken.read_text() == '{"check.dns": tru'


def test_a_planted_tmp_symlink_beside_the_checklist_is_not_followed(tmp_path: Path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    store = tmp_path / "checklist.json"
    (tmp_path / "checklist.json.tmp").symlink_to(victim)
    DeploymentState(users=80, current="compose", checklist_file=store).check("check.dns")
    assert victim.read_text() == "precious"
    assert json.loads(store.read_text()) == {"check.dns": True}


def test_a_symlinked_checklist_file_is_written_through(tmp_path: Path):
    real = tmp_path / "shared" / "team-checklist.json"
    real.parent.mkdir()
    real.write_text('{"check.stable": true}')
    link = tmp_path / "checklist.json"
    link.symlink_to(real)
    DeploymentState(users=80, current="compose", checklist_file=link).check("check.dns")
    assert link.is_symlink()
    assert json.loads(real.read_text()) == {"check.dns": True, "check.stable": True}


def test_a_tick_that_cannot_be_saved_is_the_panels_message_not_a_traceback():
    with shared_dir() as directory:
        store = directory / "checklist.json"
        store.write_text('{"check.dns": true}')
        (directory / "checklist.json.lock").write_text("")
        for path in (store, directory / "checklist.json.lock"):
            give_away(path)
        panel = DeploymentPanel(users=80, current="compose", checklist_file=store)
        directory.chmod(0o555)

        def tick() -> tuple[object, ...]:
            panel.checklist_boxes["check.window"].value = True  # must not raise
            return (
                panel.checklist_boxes["check.window"].value,
                panel.state.checked,
                panel.checklist_error.value,
            )

        try:
            box, checked, message = ast.literal_eval(run_unprivileged(tick))
        finally:
            directory.chmod(0o755)
        assert box is False and checked == {"check.dns": True}
        assert f"cannot write {store}: Permission denied" in message
        assert json.loads(store.read_text()) == {"check.dns": True}


def test_an_unreadable_checklist_file_is_a_clear_error():
    with shared_dir() as directory:
        store = directory / "checklist.json"
        store.write_text("{}")
        store.chmod(0o000 if os.geteuid() != 0 else 0o600)  # root's own: unreadable to nobody

        def build() -> object:
            return DeploymentState(users=80, checklist_file=store)

        answer = run_unprivileged(build)
        assert answer == f"raised ValueError: cannot read checklist file {store}: Permission denied"


def test_an_unreadable_override_file_is_the_states_message():
    with shared_dir() as directory:
        override = directory / "config.toml"
        override.write_text("")
        override.chmod(0o000 if os.geteuid() != 0 else 0o600)
        RuntimeState(gpu=None)  # imports what it needs here: nobody cannot read ~root/.pyenv

        def advise() -> tuple[object, ...]:
            os.environ["LABADVISOR_CONFIG"] = str(override)
            labadvisor.configure(reset=True)  # forget data read before the fork
            deployment, runtime = DeploymentState(users=80), RuntimeState(gpu=None)
            return deployment.advice, deployment.error, runtime.advice, runtime.error

        answer = run_unprivileged(advise)
        message = f"{override} cannot be read (Permission denied)"
        assert answer == repr((None, message) * 2), answer


def test_deployment_bad_input_shows_the_message():
    panel = DeploymentPanel()
    panel.state.set(gpu_sharing="vgpu")
    assert "unknown gpu_sharing 'vgpu'" in panel.error.value.replace("&#x27;", "'")
    assert panel.advice.value == ""
    panel.state.set(gpu_sharing="mig")
    assert panel.error.value == "" and "K3s" in panel.advice.value


# ------------------------------------------------------------------ typed values out of range


def _text(markup: str) -> str:
    """What a person reads in widget HTML: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


OUT_OF_RANGE = [
    # panel, inputs, control, typed value, the message under the field
    ("runtime", {}, "size_gb", -5, "Model size (GB) must be between 0 and 10,000; got -5"),
    (
        "runtime",
        {},
        "size_gb",
        1e9,
        "Model size (GB) must be between 0 and 10,000; got 1,000,000,000",
    ),
    (
        "runtime",
        {"size_mode": "params"},
        "params_b",
        0,
        "Parameters (B) must be greater than 0 and at most 10,000; got 0",
    ),
    ("runtime", {}, "team_size", -3, "Team size must be between 1 and 10,000; got -3"),
    ("runtime", {}, "hours_per_day", 25, "Offload hours/day must be between 0 and 24; got 25"),
    (
        "runtime",
        {"size_mode": "preset", "context_tokens": 2048},
        "context_tokens",
        -1,
        "Context (tokens) must be between 0 and 10,000,000; got -1",
    ),
    (
        "runtime",
        {"size_mode": "preset", "context_tokens": 2048},
        "context_tokens",
        20_000_000,
        "Context (tokens) must be between 0 and 10,000,000; got 20,000,000",
    ),
    (
        "runtime",
        {"size_mode": "preset"},
        "batch_size",
        0,
        "Batch size must be between 1 and 10,000; got 0",
    ),
    ("deployment", {}, "users", -3, "Users must be between 1 and 100,000; got -3"),
    ("deployment", {}, "users", 0, "Users must be between 1 and 100,000; got 0"),
    ("deployment", {}, "nodes", 0, "Nodes must be between 1 and 1,000; got 0"),
]


def _panel(kind: str, **inputs):
    if kind == "runtime":
        return RuntimePanel(gpu=None, plot=False, **inputs)
    return DeploymentPanel(**inputs)


@pytest.mark.parametrize(("kind", "inputs", "name", "typed", "message"), OUT_OF_RANGE)
def test_a_typed_value_out_of_range_is_kept_named_and_the_answer_marked_old(
    kind, inputs, name, typed, message
):
    panel = _panel(kind, **inputs)
    control = panel.controls[name]
    good = control.value
    answer = panel.advice.value
    advice = panel.state.current_advice()
    assert panel.state.up_to_date and panel.outdated_note.value == ""

    control.value = typed
    # Kept as typed, in the control and in the state: never clamped.
    assert control.value == typed and getattr(panel.state, name) == typed
    assert panel.state.field_errors == {name: message}
    assert _text(panel.field_errors[name].value) == message
    assert INVALID_CLASS in control._dom_classes
    # The answer is the last one, for the last valid inputs, dimmed under a note.
    assert not panel.state.up_to_date
    assert panel.state.current_advice() is advice and panel.advice.value == answer
    assert _text(panel.outdated_note.value) == "⚠ not updated: fix the marked field"
    assert OUTDATED_CLASS in panel.answer._dom_classes
    # Only the marked field has an error line.
    others = [line.value for other, line in panel.field_errors.items() if other != name]
    assert others == [""] * len(others)

    control.value = good
    assert panel.state.field_errors == {} and panel.state.up_to_date
    assert panel.field_errors[name].value == "" and INVALID_CLASS not in control._dom_classes
    assert panel.outdated_note.value == "" and OUTDATED_CLASS not in panel.answer._dom_classes
    assert panel.state.current_advice().to_dict() == advice.to_dict()


def test_a_negative_size_never_advises_a_zero_gb_model():
    panel = RuntimePanel(gpu=None, plot=False, size_gb=13)
    panel.controls["size_gb"].value = -5
    assert panel.state.advice.size_gb == 13
    assert "0 GB" not in _text(panel.advice.value).replace("10 GB", "")
    panel.controls["team_size"].value = -3
    assert panel.state.advice.cost.team_size == 1
    assert _text(panel.outdated_note.value) == "⚠ not updated: fix the marked fields"
    assert set(panel.state.field_errors) == {"size_gb", "team_size"}


def test_only_the_fields_in_use_are_checked():
    panel = RuntimePanel(gpu=None, plot=False)
    panel.controls["size_gb"].value = -5
    assert "size_gb" in panel.state.field_errors
    panel.controls["size_mode"].value = "params"  # the size box is hidden, and not used
    assert panel.state.field_errors == {} and panel.state.advice.size_gb == pytest.approx(14.0)
    assert panel.rows["size_gb"].layout.display == "none"
    panel.controls["size_mode"].value = "size"  # shown again, with its error
    assert "size_gb" in panel.state.field_errors
    assert panel.rows["size_gb"].layout.display is None


def test_an_out_of_range_input_given_in_code_leaves_no_answer_yet():
    panel = DeploymentPanel(users=-3)
    assert panel.state.advice is None and panel.advice.value == ""
    assert panel.controls["users"].value == -3
    assert "Users must be between 1 and 100,000; got -3" in _text(panel.field_errors["users"].value)
    assert _text(panel.outdated_note.value) == "⚠ no answer yet: fix the marked field"
    state = RuntimeState(plot=False, gpu=None)
    state.set(hours_per_day=float("nan"))
    assert state.field_errors == {
        "hours_per_day": "Offload hours/day must be between 0 and 24; got nan"
    }


def test_the_dashboard_marks_out_of_range_fields_too(docker_sandbox):
    board = dashboard(gpu=None)
    try:
        board.deployment.controls["users"].value = -3
        board.runtime.controls["hours_per_day"].value = 25
        assert "got -3" in _text(board.deployment.field_errors["users"].value)
        assert "got 25" in _text(board.runtime.field_errors["hours_per_day"].value)
        for panel in (board.runtime, board.deployment):
            assert OUTDATED_CLASS in panel.answer._dom_classes
        board.context.state.wait(10)
    finally:
        board.close()


# ------------------------------------------------------------------ dollar signs


def _html_values(widget) -> list[str]:
    values = [widget.value] if isinstance(widget, ipywidgets.HTML) else []
    for child in getattr(widget, "children", ()):
        values += _html_values(child)
    return values


def test_no_dollar_sign_in_panel_html_can_start_mathematics():
    runtime = RuntimePanel(gpu=None, plot=False, hours_per_day=2, team_size=5, size_gb=30)
    deployment = DeploymentPanel(users=80, current="compose")
    runtime.state.error = "an override says $75/month vs $90/month"  # any text at all
    assert any("&#36;" in value for value in _html_values(runtime))  # amounts, escaped
    for panel in (runtime, deployment):
        for value in _html_values(panel):
            # MathJax pairs dollars within one element's text: each must be alone in its own.
            for text in re.split(r"<(?:style)\b.*?</style>|<[^>]*>", value, flags=re.S):
                decoded = html.unescape(text)
                assert "$" not in decoded or decoded == "$", value
    assert "Offload $150.00" in _text(runtime.advice.value)
    assert "$75/month vs $90/month" in _text(runtime.error.value)


def test_escape_dollars_leaves_markup_alone_and_can_run_twice():
    markup = "<b title='$x'>$5</b><style>.a{content:'$'}</style><!-- $ -->and &#36;6"
    once = escape_dollars(markup)
    dollar = "<span class='labadvisor-dollar'>&#36;</span>"
    assert once == (
        f"<b title='$x'>{dollar}5</b><style>.a{{content:'$'}}</style><!-- $ -->and {dollar}6"
    )
    assert escape_dollars(once) == once
    assert esc("<$1 & $2>") == "&lt;&#36;1 &amp; &#36;2&gt;"


# ------------------------------------------------------------------ GPU panel


@pytest.mark.parametrize(
    ("init_error", "gpus", "words"),
    [
        ("DRIVER_NOT_LOADED", 1, "no running driver"),
        ("LIBRARY_NOT_FOUND", 1, "No NVIDIA GPU driver is installed"),
        (None, 0, "this kernel sees no GPU"),
    ],
)
def test_gpu_panel_says_in_plain_words_why_there_is_no_gpu(init_error, gpus, words, fake_nvml):
    import pynvml
    from fake_nvml import FakeGpu

    error = None if init_error is None else getattr(pynvml, f"NVML_ERROR_{init_error}")
    fake_nvml([FakeGpu()] * gpus, init_error=error)
    panel = GpuPanel()
    assert words in panel.status.value
    assert panel.devices.value == ""
    assert panel.live_toggle.disabled
    assert "No GPU to watch" in panel.live.value
    assert panel.holders.value == ""  # the status line says why; no empty holders section
    panel.close()


def test_gpu_panel_table_has_memory_bars(fake_l4):
    fake_l4.gpus[0].memory_used = fake_l4.gpus[0].memory_total // 2
    panel = GpuPanel()
    assert "can use 1 GPU" in panel.status.value
    assert "NVIDIA L4" in panel.devices.value
    assert "width:80px" in panel.devices.value  # half of the 160 px bar
    fake_l4.gpus[0].memory_used = 0
    panel.refresh_button.click()
    assert "width:0px" in panel.devices.value
    panel.close()


def test_gpu_live_view_starts_stops_and_leaves_no_thread(fake_l4):
    panel = GpuPanel(interval=0.05)
    assert GPU_THREAD not in thread_names()
    panel.live_toggle.value = True
    assert panel.state.running and GPU_THREAD in thread_names()
    assert wait_until(lambda: len(panel.state.samples) >= 2)
    fake_l4.gpus[0].utilization = (93, 40)
    assert wait_until(lambda: "util 93%" in panel.live.value)
    assert "▁" in panel.live.value or "█" in panel.live.value  # the sparkline

    panel.live_toggle.value = False
    assert not panel.state.running and GPU_THREAD not in thread_names()
    count = len(panel.state.samples)
    time.sleep(0.2)
    assert len(panel.state.samples) == count  # really stopped

    panel.live_toggle.value = True
    assert wait_until(lambda: panel.state.running)
    panel.close()  # closing the widget stops the sampler
    assert GPU_THREAD not in thread_names()


def test_gpu_sampler_ends_when_its_state_is_dropped_or_at_exit(fake_l4):
    state = GpuState(interval=0.05)
    state.start()
    assert GPU_THREAD in thread_names()
    del state
    gc.collect()
    assert wait_until(lambda: GPU_THREAD not in thread_names(), timeout=3)

    states = [GpuState(interval=0.05) for _ in range(2)]
    for s in states:
        s.start()
    stop_all()  # what atexit runs when the kernel shuts down
    assert GPU_THREAD not in thread_names()
    assert not any(s.running for s in states)


def test_a_kernel_that_exits_with_live_readings_on_exits_promptly(tmp_path: Path):
    script = tmp_path / "kernel.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from fake_nvml import FakeGpu, FakeNvml, use_backend\n"
        "use_backend(FakeNvml([FakeGpu()]))\n"
        "from labadvisor.widgets.gpu_state import GpuState\n"
        "state = GpuState(interval=0.05)\n"
        "state.start()\n"
        "time.sleep(0.2)\n"
        "print(len(state.samples) > 0, flush=True)\n"
    )
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "True"
    assert time.monotonic() - start < 30


def _absent_pid() -> int:
    pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 17
    assert not Path(f"/proc/{pid}").exists()
    return pid


def _holder_rows(markup: str) -> list[str]:
    return re.findall(r"<tr\b.*?</tr>", markup, flags=re.S)


def test_gpu_panel_lists_the_holders_with_this_kernel_highlighted(fake_nvml, gpu_device_file):
    from fake_nvml import FakeProcess, GiB, l4

    from labadvisor.gpu import KernelInfo

    # Another "kernel" (a child holding the device, as CUDA would) that the server knows
    # as the kernel of train.ipynb, and a pid of another PID namespace.
    with gpu_device_file.open("rb") as device:
        other = subprocess.Popen(["sleep", "30"], stdin=device)
    try:
        absent = _absent_pid()
        fake = fake_nvml(
            [
                l4(
                    0,
                    processes=[
                        FakeProcess(absent, 2 * GiB),
                        FakeProcess(os.getpid(), 6 * GiB, utilization=(81, 6)),
                        FakeProcess(other.pid, 4 * GiB),
                    ],
                )
            ]
        )
        kernels = {other.pid: KernelInfo("k-1234abcd", "python3", "train.ipynb")}
        panel = GpuPanel(kernel_pids=kernels)
        text = _text(panel.holders.value)
        assert "GPU memory by process" in text
        assert "3 process(es) hold" in text and "GPU 0 NVIDIA L4" in text
        mine, notebook, foreign = _holder_rows(panel.holders.value)  # largest first
        assert THIS_KERNEL_CLASS in mine and "font-weight:bold" in mine
        assert "this kernel" in _text(mine) and f"pid {os.getpid()}" in _text(mine)
        assert "SM 81%" in _text(mine) and "6.4 GB" in _text(mine)
        total = fake.gpus[0].memory_total
        assert f"width:{6 * GiB / total * 120:.0f}px" in mine  # the memory bar
        assert "notebook train.ipynb" in _text(notebook) and THIS_KERNEL_CLASS not in notebook
        assert f"pid {absent} (not visible from here)" in _text(foreign)
        assert THIS_KERNEL_CLASS not in foreign
        assert panel.state.holders_error is None
        panel.close()
    finally:
        other.kill()
        other.wait()


@pytest.mark.docker
def test_gpu_panel_names_a_container_by_the_current_contexts_engine(fake_nvml, gpu_container):
    from fake_nvml import FakeProcess, GiB, l4

    fake_nvml([l4(0, processes=[FakeProcess(gpu_container.pid, 4 * GiB)])])
    panel = GpuPanel()
    (process,) = panel.state.holders.processes
    assert (process.holder, process.container_name) == ("container", gpu_container.name)
    assert f"container {gpu_container.name}" in _text(panel.holders.value)
    panel.close()


def test_gpu_holders_follow_the_live_readings_in_the_sampler_job(fake_l4):
    from fake_nvml import FakeProcess, GiB

    panel = GpuPanel(interval=0.05)
    assert "no process holds memory on it" in panel.holders.value
    panel.live_toggle.value = True
    absent = _absent_pid()
    fake_l4.gpus[0].processes = [FakeProcess(absent, 3 * GiB)]
    assert wait_until(lambda: f"pid {absent} (not visible from here)" in panel.holders.value)
    # Read by the live-readings job itself: no other labadvisor thread.
    assert [n for n in thread_names() if n.startswith("labadvisor")] == [GPU_THREAD]
    fake_l4.gpus[0].processes = []
    assert wait_until(lambda: "no process holds memory on it" in panel.holders.value)
    panel.close()
    assert GPU_THREAD not in thread_names()


def test_gpu_holders_without_the_process_api_are_a_sentence(fake_nvml):
    from fake_nvml import FakeProcess, l4

    names = {
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlDeviceGetComputeRunningProcesses",
    }
    fake_nvml([l4(0, processes=[FakeProcess(os.getpid())])], missing=names)
    panel = GpuPanel()
    text = _text(panel.holders.value)
    assert (
        "GPU 0 NVIDIA L4: NVML cannot list its processes here: "
        "nvmlDeviceGetComputeRunningProcesses is not in this driver's NVML." in text
    )
    assert "<table" not in panel.holders.value
    assert "can use 1 GPU" in panel.status.value  # the rest of the panel still answers
    panel.close()


def test_gpu_holders_that_cannot_be_read_are_the_panels_message(fake_l4, monkeypatch):
    import labadvisor.gpu

    panel = GpuPanel()
    assert panel.state.holders is not None

    def broken(*_args, **_kwargs):
        raise PermissionError("/proc is not readable here")

    monkeypatch.setattr(labadvisor.gpu, "processes", broken)
    panel.refresh_button.click()
    assert panel.state.holders_error == (
        "could not read which processes hold GPU memory: "
        "PermissionError: /proc is not readable here"
    )
    assert "labadvisor-error" in panel.holders.value
    assert "/proc is not readable here" in _text(panel.holders.value)
    assert "no process holds memory on it" in panel.holders.value  # the last answer stays
    panel.close()


def test_gpu_panel_refuses_kernel_pids_that_are_not_kernels(fake_l4):
    with pytest.raises(ValueError, match="kernel_pids"):
        GpuPanel(kernel_pids={"1234": "train.ipynb"})


def test_gpu_live_interval_is_validated(fake_l4):
    with pytest.raises(ValueError, match="interval must be between"):
        GpuState(interval=0)


# ------------------------------------------------------------------ Docker context panel


def test_context_panel_lists_contexts_roles_and_why(docker_sandbox):
    panel = ContextPanel()
    assert panel.state.wait(10)
    table = panel.table.value
    assert "default" in table and "docker-cloud" in table
    assert "<td>offload</td>" in table and "<td>local</td>" in table
    assert "default" in panel.current.value and "DOCKER_HOST=" in panel.current.value
    assert panel.toggle.value == "local"
    assert "Engine unreachable" in panel.engine.value
    assert "not installed" in panel.offload.value
    assert panel.offload_start.layout.display == "none"
    assert CONTEXT_THREAD not in thread_names()


def test_failed_switch_shows_the_error_and_keeps_the_toggle_on_the_context_in_use(
    docker_sandbox,
):
    import os

    panel = ContextPanel(check_offload=False)
    panel.state.wait(10)
    panel.toggle.value = "offload"  # docker-cloud's engine does not exist
    assert panel.state.wait(10)
    assert "cannot switch to context 'docker-cloud'" in panel.error.value.replace("&#x27;", "'")
    assert "nothing was changed" in panel.error.value
    assert panel.toggle.value == "local"
    assert panel.state.current.name == "default"
    assert "DOCKER_CONTEXT" not in os.environ
    assert docker_sandbox.config_json() is None


def test_switch_to_a_reachable_engine_for_this_kernel_only(docker_sandbox, monkeypatch):
    import os

    local = docker_sandbox.engine("local")
    monkeypatch.setenv("DOCKER_HOST", local.host)
    cloud = docker_sandbox.engine("cloud", gpu=True)
    docker_sandbox.add_context("docker-cloud", cloud.host)
    panel = ContextPanel(check_offload=False)
    panel.state.wait(10)
    panel.toggle.value = "offload"
    assert panel.state.wait(10)
    assert panel.error.value == ""
    assert panel.toggle.value == "offload" and panel.other.value == "docker-cloud"
    assert os.environ["DOCKER_CONTEXT"] == "docker-cloud"
    assert docker_sandbox.config_json() is None  # kernel scope leaves config.json alone
    assert "Engine reachable" in panel.engine.value and " ms</b>" in panel.engine.value
    assert "runtime nvidia" in panel.engine.value
    assert "/_ping" in "".join(cloud.requests)

    panel.toggle.value = "local"  # back to default, i.e. DOCKER_HOST again
    assert panel.state.wait(10)
    assert panel.error.value == ""
    assert panel.state.current.name == "default" and panel.toggle.value == "local"
    assert os.environ["DOCKER_HOST"] == local.host
    assert "/_ping" in "".join(local.requests)


def test_apply_to_all_terminals_writes_config_json(docker_sandbox):
    cloud = docker_sandbox.engine("cloud")
    docker_sandbox.add_context("docker-cloud", cloud.host)
    panel = ContextPanel(check_offload=False)
    panel.state.wait(10)
    panel.global_scope.value = True
    panel.other.value = "docker-cloud"
    assert panel.state.wait(10)
    assert docker_sandbox.config_json()["currentContext"] == "docker-cloud"
    # DOCKER_HOST still decides for this kernel, and the panel says so.
    assert panel.state.current.name == "default"
    assert "keeps using default because DOCKER_HOST is set" in panel.state.last_switch.note


def test_slow_engine_checks_never_block_the_kernel(docker_sandbox):
    slow = docker_sandbox.engine("slow", delay=0.3)
    docker_sandbox.add_context("slowpoke", slow.host)
    panel = ContextPanel(check_engine=False, check_offload=False)
    start = time.perf_counter()
    panel.other.value = "slowpoke"
    elapsed = time.perf_counter() - start
    assert elapsed < 0.2  # the 0.3 s ping runs in the background
    assert "switching this kernel to slowpoke" in panel.progress.value
    assert panel.toggle.disabled and panel.other.disabled
    assert CONTEXT_THREAD in thread_names()
    assert panel.state.wait(10)
    assert panel.progress.value == "" and not panel.toggle.disabled
    assert panel.state.current.name == "slowpoke"
    assert wait_until(lambda: CONTEXT_THREAD not in thread_names())


def test_offload_start_stop_and_status_with_the_plugin(docker_sandbox):
    docker_sandbox.offload_plugin(installed=True)
    panel = ContextPanel(check_engine=False)
    panel.state.wait(10)
    assert "Docker Offload</b>: stopped" in panel.offload.value
    assert panel.offload_start.layout.display is None

    panel.offload_start.click()
    assert panel.state.wait(10)
    assert "running" in panel.offload.value and "NVIDIA L4" in panel.offload.value
    assert docker_sandbox.offload_calls == ["offload start --gpu"]

    panel.offload_stop.click()
    assert panel.state.wait(10)
    assert "stopped" in panel.offload.value
    assert docker_sandbox.offload_calls[-1] == "offload stop"


def test_offload_start_without_the_plugin_shows_why(docker_sandbox):
    panel = ContextPanel(check_engine=False)
    panel.state.start_offload()
    assert panel.state.wait(10)
    assert "Docker Desktop 4.50" in panel.error.value
    assert panel.state.offload.installed is False


@pytest.mark.docker
def test_context_panel_against_real_engines(docker_store, monkeypatch):
    panel = ContextPanel(check_offload=False)
    assert panel.state.wait(30)
    assert panel.state.current.name == "desktop-linux" or panel.state.role == "local"
    panel.toggle.value = "offload"
    assert panel.state.wait(30)
    assert panel.error.value == ""
    assert panel.state.current.name == "docker-cloud"
    assert panel.state.engine.reachable and "runtime nvidia" in panel.engine.value


# ------------------------------------------------------------------ dashboard


def test_dashboard_has_five_tabs_and_closing_it_stops_everything(
    docker_sandbox, fake_l4, tmp_path: Path, monkeypatch
):
    from labadvisor.widgets.usage_state import THREAD_NAME as USAGE_THREAD
    from labadvisor.widgets.usage_view import UsagePanel

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    board = dashboard(gpu=None, usage={"days": 7})
    assert board.titles == ("Runtime", "Deployment", "GPU", "Docker context", "Usage")
    assert [type(p) for p in board.children] == [
        RuntimePanel,
        DeploymentPanel,
        GpuPanel,
        ContextPanel,
        UsagePanel,
    ]
    assert board.usage.state.days == 7 and board.usage.days.label == "last 7 days"
    assert board.runtime.state.inputs["gpu"] is None
    assert board.runtime.controls["gpu"].label == "no local GPU"
    board.gpu.live_toggle.value = True
    assert GPU_THREAD in thread_names()
    board.context.state.wait(10)
    board.close()
    assert GPU_THREAD not in thread_names() and USAGE_THREAD not in thread_names()
    assert repr(board) == "<labadvisor dashboard: run the notebook to use it>"
    # Looking at usage never creates a ledger: the tab says there is none yet.
    assert not (tmp_path / "data" / "labadvisor").exists()
    assert "There is no usage ledger at" in board.usage.notice.value


def test_labadvisor_dashboard_is_the_lazy_entry_point(docker_sandbox, tmp_path, monkeypatch):
    import labadvisor

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))

    board = labadvisor.dashboard(gpu=None)
    board.context.state.wait(10)
    board.close()
    assert labadvisor.dashboard is dashboard


def test_notebook_04_leaves_its_panel_open_after_run_all():
    # Its last cell cleans up the sandbox; closing the panel there emptied "The panel"
    # section of a notebook run top to bottom.
    notebook = json.loads(Path("notebooks/04-docker-contexts.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    shown_at = next(i for i, source in enumerate(sources) if "panel = ContextPanel(" in source)
    closes = [
        i
        for i, source in enumerate(sources)
        for node in ast.walk(ast.parse(_python_only(source)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "close"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "panel"
    ]
    assert [i for i in closes if i >= shown_at] == []


def _python_only(source: str) -> str:
    """A cell's source without IPython's magic and shell lines."""
    return "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
