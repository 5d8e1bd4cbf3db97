"""The %labadvisor magic in a real IPython shell: results, usage errors, loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import labadvisor
from labadvisor import advise_deployment, advise_runtime, monthly_costs
from labadvisor.costs import CostComparison
from labadvisor.deployment import DeploymentAdvice
from labadvisor.runtime import RuntimeAdvice

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "labadvisor")
    return shell


def magic(ip: InteractiveShell, line: str):
    return ip.run_line_magic("labadvisor", line)


def test_runtime_returns_the_api_object(ip):
    advice = magic(ip, "runtime --model 13GB --workload code-generation --hours 6 --gpu none")
    assert isinstance(advice, RuntimeAdvice)
    expected = advise_runtime(13, workload="code-generation", hours_per_day=6, gpu=None)
    assert advice.to_dict()["choice"] == expected.choice == "offload"
    assert advice.reasons == expected.reasons
    assert advice.cost == expected.cost


def test_runtime_variants(ip):
    sensitive = magic(ip, "runtime --model 13GB --workload code-generation --gpu none --sensitive")
    assert sensitive.choice == "local-cpu" and sensitive.warnings
    params = magic(ip, "runtime --params 7 --dtype int4 --gpu 8")
    assert params.size_gb == pytest.approx(3.5) and params.choice == "local-gpu"
    preset = magic(ip, "runtime --preset llama-2-13b --gpu none --team 5 --hours 2")
    assert preset.size_gb == pytest.approx(26.0, abs=0.1) and preset.cost.team_size == 5


def test_deploy_and_costs_return_the_api_objects(ip):
    advice = magic(ip, "deploy --users 80 --nodes 3 --ha --sharing mig --current compose")
    assert isinstance(advice, DeploymentAdvice)
    expected = advise_deployment(
        80, nodes=3, high_availability=True, gpu_sharing="mig", current="docker-compose"
    )
    assert advice.to_dict() == expected.to_dict()
    assert advice.migration is not None and advice.migration.checklist

    assert magic(ip, "deploy --users 20 --k8s-experience yes").choice == "docker-compose"
    costs = magic(ip, "costs --hours 6 --rate 0.5")
    assert isinstance(costs, CostComparison)
    assert costs == monthly_costs(6, offload_rate=0.5)
    assert magic(ip, "costs --hours 2 --team 5 --local-monthly 100 --days 20").local == 500


def test_results_display_richly(ip):
    result = ip.run_cell("%labadvisor runtime --model 2GB --gpu none")
    assert result.success and isinstance(result.result, RuntimeAdvice)
    data, _ = ip.display_formatter.format(result.result)
    assert "Docker Offload" in data["text/html"] and "text/plain" in data


def test_help_prints_every_command(ip, capsys):
    assert magic(ip, "--help") is None
    out = capsys.readouterr().out
    for command in ("gpu", "context", "runtime --model", "deploy --users", "costs --hours"):
        assert f"%labadvisor {command}" in out
    assert "examples:" in out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("bogus", "invalid choice: 'bogus'"),
        ("--frobnicate", "unrecognized arguments: --frobnicate"),
        ("costs --hours six", "invalid float value: 'six'"),
        ("runtime --model '13GB", "No closing quotation"),
        ("deploy --k8s-experience maybe --users 3", "expected yes or no"),
    ],
)
def test_bad_arguments_raise_usage_error_with_the_usage(ip, line, message):
    with pytest.raises(UsageError) as caught:
        magic(ip, line)
    text = str(caught.value)
    assert message in text
    assert "usage:" in text and "%labadvisor runtime" in text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("runtime --workload testing", "needs exactly one of --model SIZE"),
        ("runtime --model 2GB --params 3", "got --model, --params"),
        ("runtime --model 2GB --users 3", "--users does not apply to %labadvisor runtime"),
        ("deploy", "needs --users N"),
        ("costs", "needs --hours H"),
        ("gpu local", "only `%labadvisor context` takes a target"),
        ("costs --hours 3 --ha --sharing mig", "--ha, --sharing do not apply"),
    ],
)
def test_wrong_combinations_are_usage_errors(ip, line, message):
    with pytest.raises(UsageError) as caught:
        magic(ip, line)
    assert message in str(caught.value)
    assert "usage:" in str(caught.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("runtime --model 13XB", "model_size_gb '13XB' is not a size"),
        ("runtime --model 3GB --workload poetry", "unknown workload 'poetry'"),
        ("runtime --model 3GB --hours 25", "hours_per_day must be between 0 and 24"),
        ("runtime --preset gpt-5", "unknown preset 'gpt-5'"),
        ("deploy --users 0", "users must be a whole number"),
        ("deploy --users 10 --sharing vgpu", "unknown gpu_sharing 'vgpu'"),
        ("costs --hours 3 --rate -1", "offload_rate must be at least 0"),
    ],
)
def test_library_value_errors_become_usage_errors(ip, line, message):
    with pytest.raises(UsageError) as caught:
        magic(ip, line)
    assert message in str(caught.value)


def test_a_usage_error_prints_no_traceback(ip, capsys):
    result = ip.run_cell("%labadvisor runtime --model 13XB")
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "UsageError" in text and "is not a size" in text
    assert "Traceback" not in text


def test_loading_twice_is_harmless(ip, capsys):
    labadvisor.load_ipython_extension(ip)
    labadvisor.load_ipython_extension(ip)
    ip.run_line_magic("reload_ext", "labadvisor")
    assert "labadvisor" in ip.magics_manager.magics["line"]
    assert magic(ip, "costs --hours 6").offload == pytest.approx(90.0)


def test_gpu_shows_the_report_or_the_panel(ip, fake_l4):
    report = magic(ip, "gpu --refresh")
    assert report.status == "ok" and report.best_device().name == "NVIDIA L4"
    from labadvisor.widgets.gpu_view import GpuPanel

    panel = magic(ip, "gpu --panel")
    assert isinstance(panel, GpuPanel)
    panel.close()


def test_context_lists_switches_and_reports_failures(ip, docker_sandbox, capsys):
    listed = magic(ip, "context")
    assert [c.name for c in listed] == ["default", "docker-cloud"]
    assert "DOCKER_HOST" in capsys.readouterr().out  # the current context, and why

    with pytest.raises(UsageError, match="nothing was changed"):
        magic(ip, "context offload")
    assert "DOCKER_CONTEXT" not in os.environ

    with pytest.raises(UsageError, match="no Docker context named 'nope'"):
        magic(ip, "context nope")

    result = magic(ip, "context offload --no-check")
    assert result.context == "docker-cloud" and result.scope == "kernel"
    assert os.environ["DOCKER_CONTEXT"] == "docker-cloud"

    result = magic(ip, "context docker-cloud --global --no-check")
    assert result.scope == "global"
    assert docker_sandbox.config_json()["currentContext"] == "docker-cloud"

    with pytest.raises(UsageError, match="need a target"):
        magic(ip, "context --global")


def test_context_switch_with_a_live_engine(ip, docker_sandbox):
    cloud = docker_sandbox.engine("cloud")
    docker_sandbox.add_context("docker-cloud", cloud.host)
    result = magic(ip, "context offload")
    assert result.changed and result.round_trip_ms is not None


def test_dashboard_is_the_default(ip, docker_sandbox):
    from labadvisor.widgets import Dashboard

    board = magic(ip, "--gpu none")
    assert isinstance(board, Dashboard)
    assert board.runtime.state.inputs["gpu"] is None
    board.context.state.wait(10)
    board.close()


def test_magic_import_stays_light():
    code = (
        "import sys, labadvisor.magic\n"
        "print([m for m in ('ipywidgets', 'matplotlib', 'pandas', 'docker', "
        "'labadvisor.widgets') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_auto_load_through_the_extensions_setting(tmp_path):
    # What the README documents: c.InteractiveShellApp.extensions = ["labadvisor"].
    profile = tmp_path / "ipython"
    (profile / "profile_default").mkdir(parents=True)
    (profile / "profile_default" / "ipython_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["labadvisor"]\n'
    )
    env = {**os.environ, "IPYTHONDIR": str(profile)}
    out = subprocess.run(
        [
            str(BIN / "ipython"),
            "--no-banner",
            "--colors=nocolor",
            "-c",
            "%labadvisor costs --hours 6",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    assert "offload=90.0" in out.stdout


def test_the_line_is_split_as_a_shell_would(ip):
    advice = magic(ip, 'runtime --model "13 GB" --workload "code generation" --gpu none')
    expected = advise_runtime(13, workload="code-generation", gpu=None)
    assert advice.size_gb == expected.size_gb and advice.reasons == expected.reasons


def test_version_and_command_help_print_and_return_none(ip, capsys):
    assert magic(ip, "--version") is None
    assert capsys.readouterr().out.strip() == f"%labadvisor {labadvisor.__version__}"
    assert magic(ip, "runtime --help") is None
    out = capsys.readouterr().out
    assert out.startswith("usage: %labadvisor runtime") and "--preset NAME" in out


def test_the_magic_and_the_cli_give_the_same_answer(ip, capsys):
    from labadvisor.cli import main

    line = "deploy --users 60 --current compose --k8s-experience no --sharing mig"
    assert main([*line.split(), "--json"]) == 0
    assert magic(ip, line).to_dict() == json.loads(capsys.readouterr().out)


def test_context_use_reads_as_in_the_cli(ip, docker_sandbox):
    result = magic(ip, "context use offload --no-check --timeout 1")
    assert result.context == "docker-cloud" and result.scope == "kernel"
    with pytest.raises(UsageError, match="--panel does not apply to %labadvisor context use"):
        magic(ip, "context offload --panel")
